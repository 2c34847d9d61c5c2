import { ErpmodError } from '../errors';
import type { EventBus, SubscriptionOwner } from '../loader/event-bus';
import type { Logger } from '../logger';
import { decodeBytes, encodeBytes, type RunnerLoadInput, type RunnerToHost } from './runner-protocol';
import type { OutputSink } from './runner-output';
import { RunnerProcess, type RunnerExit, type RunnerProcessOptions } from './runner-process';
import { CAN_WATCH_MEMORY } from './watch-memory-ceiling';

export interface CrashRecord {
  readonly signal: string | null;
  readonly exitCode: number | null;
  /** True when the host killed the process because a request outlived timeouts.request_ms. */
  readonly hung: boolean;
  /** Set when the host killed the process because its resident size went over isolated_memory_mb. */
  readonly memory: { readonly residentMb: number; readonly ceilingMb: number } | null;
  readonly failedRequests: number;
  readonly lastLines: readonly string[];
  /** Milliseconds until the restart, or null when the circuit opened instead. */
  readonly restartInMs: number | null;
}

export interface IsolatedModuleOptions {
  readonly input: RunnerLoadInput;
  readonly memoryMb: number;
  /** The runner's whole environment (runner-environment.ts). */
  readonly env: Record<string, string>;
  readonly crashLimit: number;
  readonly crashWindowMs: number;
  /** The module's own logger: its lines carry the module's code and version already. */
  readonly logger: Logger;
  readonly bus: EventBus;
  readonly owner: SubscriptionOwner;
  readonly onCrash: (record: CrashRecord) => void;
  readonly onCircuitOpen: (reason: string) => void;
  /** Passes a runner's output on to the host's log. */
  readonly output: OutputSink;
  /** Confines each runner with bubblewrap; undefined runs it with the host's view (runner-sandbox.ts). */
  readonly sandbox?: RunnerProcessOptions['sandbox'];
}

type State = 'starting' | 'ready' | 'restarting' | 'open' | 'stopped';

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout | undefined;
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

/**
 * One generation of a module running in its own process: forwards calls, health checks and events over
 * IPC, turns a crash into 502 for the requests it was serving, restarts the process with exponential
 * backoff, and opens a circuit (503 until an operator reloads) after `crashLimit` crashes in the window.
 */
export class IsolatedModule {
  private runner: RunnerProcess | undefined;
  private state: State = 'starting';
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private crashes: number[] = [];
  private hung = false;
  private forwarding = false;
  routes: readonly string[] = [];
  hasHealth = false;

  constructor(private readonly options: IsolatedModuleOptions) {}

  private get code(): string {
    return this.options.input.loaded.manifest.code;
  }

  /** Starts the first process; rejects with the runner's reason when the module does not load. */
  start(): Promise<void> {
    if (!CAN_WATCH_MEMORY) {
      this.options.logger.warn(`isolated module ${this.code}: no /proc on this system, so only V8's heap limit bounds its process, not isolated_memory_mb`);
    }
    return new Promise((resolve, reject) => this.spawn(resolve, reject));
  }

  call(key: string, request: unknown, timeoutMs: number): Promise<unknown> {
    if (this.state !== 'ready' || this.runner === undefined) return Promise.reject(this.unavailable());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ErpmodError('ERPMOD_HANDLER_TIMEOUT', `module "${this.code}" did not answer within ${timeoutMs} ms (timeouts.request_ms); its process is restarted`));
        // A process that hangs on one request may hang on all: replace it.
        this.hung = true;
        this.runner?.kill('SIGKILL');
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const rawBody = (request as { rawBody?: unknown }).rawBody;
      const wire = Buffer.isBuffer(rawBody) ? { ...(request as object), rawBody: encodeBytes(rawBody), body: (request as { body?: unknown }).body } : request;
      this.runner!.send({ t: 'call', id, key, request: wire });
    });
  }

  health(timeoutMs: number): Promise<unknown> {
    if (this.state === 'open') return Promise.resolve({ status: 'unhealthy', details: { reason: 'circuit open after repeated crashes' } });
    if (this.state !== 'ready' || this.runner === undefined) return Promise.resolve({ status: 'degraded', details: { reason: 'restarting after a crash' } });
    if (!this.hasHealth) return Promise.resolve({ status: 'healthy' });
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`health() did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.runner!.send({ t: 'health', id });
    });
  }

  /** Asks the process to run cleanup() and exit; kills it when it does not within `ms`. */
  async stop(ms = 10_000): Promise<void> {
    this.state = 'stopped';
    const runner = this.runner;
    if (runner === undefined || runner.exited) return;
    try {
      runner.send({ t: 'cleanup' });
    } catch {
      runner.kill();
    }
    const timer = setTimeout(() => runner.kill(), ms);
    await runner.exit;
    clearTimeout(timer);
  }

  private spawn(onReady?: () => void, onFailure?: (error: Error) => void): void {
    let settled = false;
    // After a reported load failure, the exit that follows is not a second crash.
    let loadFailed = false;
    const runner = new RunnerProcess({
      memoryMb: this.options.memoryMb,
      env: this.options.env,
      ...(this.options.sandbox === undefined ? {} : { sandbox: this.options.sandbox }),
      output: this.options.output,
      onMessage: (message) => {
        if (message.t === 'ready') {
          this.routes = message.routes;
          this.hasHealth = message.hasHealth;
          this.subscribeOnce(message.subscribes);
          this.state = 'ready';
          settled = true;
          onReady?.();
        } else if (message.t === 'load-failed') {
          settled = true;
          loadFailed = true;
          runner.kill();
          onFailure?.(new ErpmodError('ERPMOD_INIT_FAILED', message.message));
        } else {
          this.receive(message);
        }
      },
      onExit: (exit) => {
        if (this.runner !== runner || loadFailed) return;
        if (!settled && onFailure !== undefined) {
          settled = true;
          return onFailure(new ErpmodError('ERPMOD_LOAD_FAILED', `module "${this.code}": its process ${this.describeExit(exit)} while loading; ${describeLoadOutput(exit.lastLines, this.options.sandbox !== undefined)}`));
        }
        this.crashed(exit);
      },
    });
    this.runner = runner;
    try {
      runner.load(this.options.input);
    } catch (error) {
      onFailure?.(error as Error);
    }
  }

  private receive(message: RunnerToHost): void {
    if (message.t === 'reply') {
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      this.pending.delete(message.id);
      clearTimeout(waiting.timer);
      if (message.ok) waiting.resolve(restoreBuffers(message.value));
      else waiting.reject(Object.assign(new Error(message.message), { code: message.code }));
    } else if (message.t === 'publish') {
      // Checked again here: the process is the module's, and need not be trusted to check itself.
      if (!this.options.input.loaded.manifest.events.publishes.includes(message.topic)) {
        this.options.logger.error({ topic: message.topic }, 'isolated module published an undeclared topic; dropped');
        return;
      }
      this.options.bus.publish(this.code, message.topic, message.payload);
    }
  }

  /** The host bus delivers to this generation through one forwarder per topic, made once. */
  private subscribeOnce(topics: readonly string[]): void {
    if (this.forwarding) return;
    this.forwarding = true;
    for (const topic of topics) {
      this.options.bus.subscribe(this.options.owner, topic, (payload) => {
        if (this.state !== 'ready' || this.runner === undefined) {
          this.options.logger.warn({ topic }, 'event not delivered: the module process is restarting');
          return;
        }
        this.runner.send({ t: 'event', topic, payload });
      });
    }
  }

  private crashed(exit: RunnerExit): void {
    const failedRequests = this.pending.size;
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(new ErpmodError('ERPMOD_MODULE_CRASHED', `module "${this.code}": its process ${this.describeExit(exit)} while serving the request`));
    }
    this.pending.clear();
    const hung = this.hung;
    this.hung = false;
    const memory = exit.overCeilingBytes === null ? null : { residentMb: toMb(exit.overCeilingBytes), ceilingMb: this.options.memoryMb };
    if (memory !== null) {
      this.options.logger.error({ ...memory }, `isolated module ${this.code} ${this.describeExit(exit)}`);
    }
    if (this.state === 'stopped') return;

    const now = Date.now();
    this.crashes = [...this.crashes.filter((at) => now - at < this.options.crashWindowMs), now];
    const open = this.crashes.length >= this.options.crashLimit;
    const restartInMs = open ? null : Math.min(BACKOFF_MIN_MS * 2 ** (this.crashes.length - 1), BACKOFF_MAX_MS);
    this.options.onCrash({ signal: exit.signal, exitCode: exit.code, hung, memory, failedRequests, lastLines: exit.lastLines, restartInMs });
    if (open) {
      this.state = 'open';
      const reason = `circuit open: ${this.crashes.length} crashes within ${this.options.crashWindowMs} ms; reload the module to try again`;
      this.options.onCircuitOpen(reason);
      return;
    }
    this.state = 'restarting';
    setTimeout(() => {
      if (this.state !== 'restarting') return;
      this.spawn(undefined, () => {
        // A restart that fails to load counts as one more crash.
        this.crashed({ code: null, signal: null, lastLines: [], overCeilingBytes: null });
      });
    }, restartInMs!);
  }

  private describeExit(exit: RunnerExit): string {
    if (exit.overCeilingBytes !== null) {
      return `went over its memory ceiling (resident ${toMb(exit.overCeilingBytes)} MB, isolated_memory_mb ${this.options.memoryMb}) and was killed`;
    }
    return exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  }

  private unavailable(): ErpmodError {
    return new ErpmodError(
      'ERPMOD_MODULE_UNAVAILABLE',
      this.state === 'open'
        ? `module "${this.code}" crashed repeatedly and its circuit is open; an operator must reload it`
        : `module "${this.code}" is restarting after a crash; retry shortly`,
    );
  }
}

/** Rounded up: a size over the ceiling never reads as the ceiling itself. */
function toMb(bytes: number): number {
  return Math.ceil(bytes / (1024 * 1024));
}

/** A binary reply body crossed the channel as base64; the reply writer wants the Buffer back. */
function restoreBuffers(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { bodyIsBytes?: unknown }).bodyIsBytes === true) {
    const { bodyIsBytes: _ignored, ...reply } = value as { bodyIsBytes: true; body: unknown };
    return { ...reply, body: decodeBytes(reply.body) };
  }
  return value;
}

/**
 * What a runner that died while loading printed: the first error line (Node prints the cause first, then a
 * stack and its version), then the last lines. A file a sandboxed runner could not find is most often one
 * the sandbox hides (an operator's NODE_OPTIONS preload): say how to show it.
 */
function describeLoadOutput(lines: readonly string[], sandboxed: boolean): string {
  const firstError = lines.find((line) => /\b\w*Error\b/.test(line));
  const shown = [...new Set([...(firstError === undefined ? [] : [firstError]), ...lines.slice(-3)])];
  const hidden = sandboxed && lines.some((line) => /Cannot find module|ENOENT/.test(line));
  const hint = hidden ? '; a sandboxed runner sees only the paths docs/isolation.md lists: name others in isolated_sandbox_read' : '';
  return `last lines: ${shown.join(' | ')}${hint}`;
}
