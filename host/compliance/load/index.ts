/** The load phase: a throw-away child dlopens the library; the parent survives whatever happens there. */
export { runLoadCheck, killRunningLoadChecks, DEFAULT_LOAD_TIMEOUT_MS } from './run-load-check';
export type { LoadCheckOptions, LoadOutcome, LoadReport } from './run-load-check';
export { LOAD_STEPS } from './child-protocol';
export type { LoadStep } from './child-protocol';
