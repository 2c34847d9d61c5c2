/**
 * `erpmod dev`: the vendor's inner loop. A local host (SQLite in a data directory of its own) serves
 * the given module directories; an edit of a module's sources or module.yml rebuilds it with its own
 * builder, runs the static checks, and hot-reloads it through the host's admin listener. A failed
 * build, check or reload leaves the last good generation serving and says why.
 *
 * The host loads what the builder wrote from its own modules directory (stageDevModule), so a build in
 * progress never touches a library the host has mapped; production hosts keep loading prebuilt,
 * signed packs.
 */

import fs from 'node:fs';
import path from 'node:path';
import { checkModule } from '../compliance/check-module';
import { defaultCheckTarget } from '../compliance/default-check-target';
import { readManifest } from '../compliance/manifest/read-manifest';
import { ErpmodError, messageOf } from '../errors';
import { buildModuleDir } from './build-module-dir';
import { requestReload } from './request-reload';
import type { PhaseListener } from './run-builder-steps';
import { stageDevModule } from './stage-dev-module';

/** Quiet time after the last change before a rebuild starts: editors write a file in several steps. */
export const DEV_DEBOUNCE_MS = 300;

/** Paths under a module directory that are outputs or tooling, never sources. */
const IGNORED = /^(build|lib|node_modules|\.git)(\/|$)|(^|\/)\.[^/]*$|\.tgz$|~$|\.sw[px]$/;

export interface DevReporter {
  /** One line about a module (a phase with its time, a result, a failure's reason). */
  line(code: string, text: string): void;
  /** Phase events of the build, for a terminal's ticking line. */
  readonly onPhase?: (code: string) => PhaseListener;
}

export interface DevModule {
  readonly code: string;
  readonly dir: string;
}

export interface DevHostAccess {
  readonly adminUrl: string;
  readonly adminToken: string;
}

export class DevSession {
  private readonly running = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly watchers: fs.FSWatcher[] = [];
  private host: DevHostAccess | undefined;
  private closed = false;

  constructor(
    readonly modules: readonly DevModule[],
    private readonly modulesDir: string,
    private readonly reporter: DevReporter,
  ) {}

  /** Reads each directory's module.yml. @throws ErpmodError ERPMOD_MANIFEST_* (a directory that is no module) */
  static describe(dirs: readonly string[]): DevModule[] {
    const modules = dirs.map((dir) => {
      const loaded = readManifest(dir);
      return { code: loaded.manifest.code, dir: loaded.moduleDir };
    });
    const codes = new Set<string>();
    for (const m of modules) {
      if (codes.has(m.code)) throw new ErpmodError('ERPMOD_USAGE', `two of the directories are module ${m.code}; give each module once`);
      codes.add(m.code);
    }
    return modules;
  }

  /** Builds, checks and stages every module before the host starts; returns how many are ready to serve. */
  async prepare(): Promise<number> {
    let ready = 0;
    for (const m of this.modules) if (await this.cycle(m, false)) ready += 1;
    return ready;
  }

  /** From now on, successful cycles reload the module in the running host. */
  attach(host: DevHostAccess): void {
    this.host = host;
  }

  watch(): void {
    for (const m of this.modules) {
      const watcher = fs.watch(m.dir, { recursive: true }, (_event, file) => {
        const relative = file === null ? '' : String(file).split(path.sep).join('/');
        if (relative !== '' && IGNORED.test(relative)) return;
        this.schedule(m);
      });
      watcher.on('error', (error) => this.reporter.line(m.code, `stopped watching ${m.dir}: ${messageOf(error)}`));
      this.watchers.push(watcher);
    }
  }

  /** Stops watching and waits for a cycle in progress. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers) w.close();
    for (const t of this.timers.values()) clearTimeout(t);
    await Promise.allSettled([...this.running.values()]);
  }

  private schedule(m: DevModule): void {
    if (this.closed) return;
    const pending = this.timers.get(m.code);
    if (pending !== undefined) clearTimeout(pending);
    this.timers.set(m.code, setTimeout(() => {
      this.timers.delete(m.code);
      if (this.running.has(m.code)) {
        this.dirty.add(m.code);
        return;
      }
      const run = this.cycle(m, true).then(() => undefined).finally(() => {
        this.running.delete(m.code);
        if (this.dirty.delete(m.code)) this.schedule(m);
      });
      this.running.set(m.code, run);
    }, DEV_DEBOUNCE_MS));
  }

  /** build -> check -> stage -> reload; false (with the reason said) when a step fails. */
  private async cycle(m: DevModule, reload: boolean): Promise<boolean> {
    const say = (text: string): void => this.reporter.line(m.code, text);
    const keeps = reload ? ' (the host keeps serving the last good build)' : '';
    try {
      await buildModuleDir(m.dir, { onPhase: this.phaseListener(m.code) });

      const checking = Date.now();
      const report = checkModule(m.dir, defaultCheckTarget());
      const failures = report.violations.filter((v) => v.severity === 'error');
      if (failures.length > 0) {
        say(`check failed${keeps}:\n${failures.map((v) => `  ${v.rule}: ${v.message}`).join('\n')}`);
        return false;
      }
      say(`check      ${seconds(Date.now() - checking)}`);

      stageDevModule(readManifest(m.dir), this.modulesDir);
      if (!reload || this.host === undefined) return true;
      const reloading = Date.now();
      const answer = await requestReload({ hostUrl: this.host.adminUrl, code: m.code, adminToken: this.host.adminToken });
      if (!answer.ok) {
        say(`reload failed${keeps}: ${answer.summary}`);
        return false;
      }
      say(`reload     ${seconds(Date.now() - reloading)}: serving ${String(answer.body.version ?? '?')}, generation ${String(answer.body.generation ?? '?')}`);
      return true;
    } catch (error) {
      const code = error instanceof ErpmodError ? error.code : 'ERPMOD_INTERNAL';
      say(`${code === 'ERPMOD_BUILD_FAILED' ? 'build failed' : 'failed'}${keeps}: ${code}: ${messageOf(error)}`);
      return false;
    }
  }

  private phaseListener(code: string): PhaseListener {
    const ticking = this.reporter.onPhase?.(code);
    return (event) => {
      ticking?.(event);
      if (event.state === 'done' && event.phase !== 'install') this.reporter.line(code, `${event.phase.padEnd(10)} ${seconds(event.ms ?? 0)}`);
    };
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
