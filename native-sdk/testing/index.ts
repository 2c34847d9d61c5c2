/** Test helpers for erpmod module vendors: a fake `ctx` and a harness that loads a module library. */
export { applyMigrations, createFakeContext, FakeEventBus } from './fake-context';
export type {
  EventListener,
  FakeContext,
  FakeContextOptions,
  LogLevel,
  LogLine,
  ModuleCtx,
  PublishedEvent,
  SubscriberFailure,
} from './fake-context';
export { loadModuleLibrary, matchRoute, moduleLibraryPath, openModule, readManifestSubset } from './module-harness';
export type {
  HandlerFunction,
  HarnessResponse,
  ManifestSubset,
  ModuleHandler,
  ModuleRequest,
  ModuleResponse,
  OpenedModule,
  OpenModuleOptions,
  RequestOptions,
} from './module-harness';
