/**
 * The runner: the entry point of an isolated module's own process. It uses the host's own loader
 * (loadModule: dlopen with RTLD_NOW, identity, migrations, initialize, routes) on a shadow copy the host
 * has already checked, then serves calls from the host over IPC. A crash here ends only this process.
 */
import { parseArgs } from 'node:util';
import { messageOf } from '../errors';
import { configureExecution } from '../execution/configure-execution';
import { EventBus, type SubscriptionOwner } from '../loader/event-bus';
import { cleanupQuietly, loadModule } from '../loader/load-module';
import { isThenable } from '../loader/with-timeout';
import { createLogger } from '../logger';
import type { ModuleGeneration } from '../runtime/module-generation';
import { openRunnerStore } from '../store/open-runner-store';
import { startParentWatchdog } from './parent-watchdog';
import { decodeBytes, encodeBytes, type HostToRunner, type RunnerLoadInput, type RunnerToHost } from './runner-protocol';

const { values: options } = parseArgs({ options: { 'host-pid': { type: 'string' }, watchdog: { type: 'boolean' }, sandboxed: { type: 'boolean' } } });
const hostPid = Number(options['host-pid']);
// The host died before the parent-death signal was armed (or the watchdog started): nobody will ask
// this process to end, so it ends now. In a sandbox the parent is bwrap's init, which dies with the host
// (runner-command.ts); a host that died before that chain was armed closed the IPC channel (below).
if (options.sandboxed !== true && process.ppid !== hostPid) process.exit(0);
if (options.watchdog === true) {
  startParentWatchdog(hostPid, (error) => createLogger('warn').warn({ err: error }, 'isolated module runner: the parent watchdog did not start; this process may outlive a killed host'));
}

const send = (message: RunnerToHost): void => {
  process.send?.(message);
};

/** Publishes leave for the host's bus; deliveries from the host reach this process' subscribers. */
class ForwardingBus extends EventBus {
  readonly topics = new Set<string>();
  override subscribe(owner: SubscriptionOwner, topic: string, listener: (payload: unknown, topic: string) => unknown): void {
    this.topics.add(topic);
    super.subscribe(owner, topic, listener);
  }
  override publish(_publisher: string, topic: string, payload: unknown): void {
    send({ t: 'publish', topic, payload });
  }
  deliver(topic: string, payload: unknown): void {
    super.publish('host', topic, payload);
  }
}

let generation: ModuleGeneration | undefined;
let bus: ForwardingBus | undefined;

async function load(input: RunnerLoadInput): Promise<void> {
  const { manifest } = input.loaded;
  const logger = createLogger(input.logLevel).child({ module: manifest.code, version: manifest.version, isolated: true });
  bus = new ForwardingBus(logger);
  configureExecution(input.execution);
  try {
    const store = input.store === undefined ? undefined : openRunnerStore(input.store, logger);
    generation = await loadModule({ ...input, logger, bus, env: input.env as NodeJS.ProcessEnv, store });
    generation.subscriptions.live = true;
    send({ t: 'ready', routes: [...generation.routes.keys()], subscribes: [...bus.topics], hasHealth: typeof generation.handler.health === 'function' });
  } catch (error) {
    send({ t: 'load-failed', message: messageOf(error) });
  }
}

async function call(id: number, key: string, request: Record<string, unknown>): Promise<void> {
  const fn = generation?.routes.get(key);
  if (fn === undefined) return send({ t: 'reply', id, ok: false, message: `no route ${key}` });
  request.rawBody = decodeBytes(request.rawBody);
  try {
    let value = fn(request);
    if (isThenable(value)) value = await value;
    const body = (value as { body?: unknown } | null)?.body;
    if (Buffer.isBuffer(body)) value = { ...(value as object), body: encodeBytes(body), bodyIsBytes: true };
    send({ t: 'reply', id, ok: true, value });
  } catch (error) {
    send({ t: 'reply', id, ok: false, message: messageOf(error), code: (error as { code?: string }).code });
  }
}

async function health(id: number): Promise<void> {
  try {
    let value = generation?.handler.health?.();
    if (isThenable(value)) value = await value;
    send({ t: 'reply', id, ok: true, value });
  } catch (error) {
    send({ t: 'reply', id, ok: false, message: messageOf(error) });
  }
}

process.on('message', (message: HostToRunner) => {
  switch (message.t) {
    case 'load':
      void load(message.input);
      break;
    case 'call':
      void call(message.id, message.key, message.request as Record<string, unknown>);
      break;
    case 'event':
      bus?.deliver(message.topic, message.payload);
      break;
    case 'health':
      void health(message.id);
      break;
    case 'cleanup':
      void (async () => {
        if (generation !== undefined) {
          await cleanupQuietly(generation.handler, createLogger('error'));
          generation.closeDatabase();
        }
        send({ t: 'cleaned' });
        process.exit(0);
      })();
      break;
  }
});
// The host going away (its IPC channel closing) ends the runner too.
process.on('disconnect', () => process.exit(0));
