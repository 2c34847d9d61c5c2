import path from 'node:path';
import type { OperatorActions } from '../cluster/fan-out-operator';
import { messageOf } from '../errors';
import type { Logger } from '../logger';
import type { ModuleOperator, ReloadResult } from '../operations/module-operator';
import { keptPack, keptPackBytes } from '../packaging/kept-pack';
import type { TrustPolicy } from '../packaging/trust-policy';
import type { PluginEventKind, PluginRepository } from '../registry/plugin-repository';
import type { ModuleTable } from '../runtime/module-slot';
import { installFleetPack } from './install-fleet-pack';
import type { FleetChange, FleetModuleState, FleetSnapshot, PostgresFleetLink, SharedPack } from './postgres-fleet-link';

/** What the fleet needs to hand installed packs from one instance to the others. */
export interface FleetPacks {
  readonly modulesDir: string;
  readonly trustPolicy: () => TrustPolicy;
  readonly registry: PluginRepository;
  /** This instance's name, recorded as who installed a pack. */
  readonly instance: string;
}

/**
 * Operator actions for instances sharing one PostgreSQL. An action is applied here while this instance
 * holds the module's fleet lock, and recorded in the fleet's rows in the same transaction; the other
 * instances (and this one's sibling cluster workers) converge on those rows when woken. Converging
 * means: reload a module whose reload serial moved past what this process has seen, then enable or
 * disable until the module's state matches its row. The reply reports this instance's result and the
 * fleet version it recorded; the others follow within a notification's delay.
 *
 * Module binaries travel with reloads: a reload of a module installed from a pack stores the pack in
 * erpmod_fleet.packs with the change, and an instance converging on that reload first installs those
 * bytes (sha256-checked, under its own trust policy) when it does not hold them yet. An instance that
 * cannot verify them keeps serving what it has and records why (a `failed` event, operation `install`).
 */
export class FleetOperator implements OperatorActions {
  private readonly seenSerial = new Map<string, number>();
  /** One action or reconcile at a time in this process: they both drive the same ModuleOperator. */
  private queue: Promise<unknown> = Promise.resolve();
  private reconcileQueued = false;

  constructor(
    private readonly local: ModuleOperator,
    private readonly link: PostgresFleetLink,
    private readonly table: ModuleTable,
    private readonly logger: Logger,
    private readonly packs: FleetPacks,
  ) {}

  /**
   * Adopts the fleet's state after boot: what this instance loaded from disk counts as every reload
   * recorded so far, and modules the fleet has disabled are disabled here too.
   */
  async adopt(snapshot: FleetSnapshot): Promise<void> {
    // A module whose fleet pack this instance does not hold (it was installed while this one was down) is
    // reloaded, after installing the pack, by the first converge.
    for (const module of snapshot.modules) this.seenSerial.set(module.code, this.holdsPack(module) ? module.reloadSerial : 0);
    await this.serially(() => this.converge(snapshot));
  }

  /** Called on every wake-up (notification, reconnect, polled version): reads the rows and converges. */
  wake(reason: string): void {
    if (this.reconcileQueued) return;
    this.reconcileQueued = true;
    void this.serially(async () => {
      this.reconcileQueued = false;
      let snapshot: FleetSnapshot;
      try {
        snapshot = await this.link.snapshot();
      } catch (error) {
        this.logger.warn({ reason, err: messageOf(error) }, 'fleet: could not read the registry; the next wake-up tries again');
        return;
      }
      await this.converge(snapshot);
    });
  }

  /** Reloads here, then records the build it loaded: the others reload the same sha256 or refuse to switch. */
  reload(code: string): Promise<object> {
    return this.act(code, (result) => ({ reload: true, binarySha256: result.sha256, pack: this.packToShare(result) }), () => this.local.reload(code), (state) => this.seenSerial.set(code, state.reloadSerial));
  }

  enable(code: string): Promise<object> {
    return this.act(code, () => ({ enabled: true }), () => this.local.enable(code));
  }

  disable(code: string): Promise<object> {
    return this.act(code, () => ({ enabled: false }), () => this.local.disable(code));
  }

  /** Flipped from the fleet's row (this instance's state when the fleet has none yet), then applied as enable or disable. */
  async toggle(code: string): Promise<object> {
    const current = await this.link.moduleState(code);
    const enabled = current?.enabled ?? this.table.slots.get(code)?.state !== 'disabled';
    return enabled ? this.disable(code) : this.enable(code);
  }

  private act<T extends object>(code: string, change: (result: T) => FleetChange, apply: () => Promise<T>, recorded?: (state: FleetModuleState) => void): Promise<object> {
    return this.serially(async () => {
      try {
        const { result, state, version } = await this.link.change(code, change, apply);
        recorded?.(state);
        return { ...result, fleet: { version, enabled: state.enabled, reloadSerial: state.reloadSerial } };
      } catch (error) {
        // Applied here but perhaps not recorded (the commit failed): converging on the rows puts this
        // instance back where the fleet is.
        this.wake('an action failed');
        throw error;
      }
    });
  }

  private async converge(snapshot: FleetSnapshot): Promise<void> {
    for (const module of snapshot.modules) {
      if (module.reloadSerial > (this.seenSerial.get(module.code) ?? 0)) {
        this.seenSerial.set(module.code, module.reloadSerial);
        if (!this.holdsPack(module) && !(await this.installFromFleet(module))) continue;
        await this.attempt(module.code, 'reload', () => this.local.reload(module.code, module.binarySha256 ?? undefined));
      }
    }
    // Dependencies order enables and disables: passes repeat while one of them made progress.
    let behind = false;
    for (let pass = 0; pass <= snapshot.modules.length; pass++) {
      let progressed = false;
      behind = false;
      for (const module of snapshot.modules) {
        const slot = this.table.slots.get(module.code);
        if (slot === undefined) continue;
        const enabledHere = slot.state !== 'disabled';
        if (module.enabled === enabledHere) continue;
        const done = await this.attempt(module.code, module.enabled ? 'enable' : 'disable', () => (module.enabled ? this.local.enable(module.code) : this.local.disable(module.code)));
        progressed ||= done;
        behind ||= !done;
      }
      if (!progressed) break;
    }
    // Still behind (a dependent of this instance's own holds a module up): the next poll tries again.
    if (!behind) this.link.converged(snapshot.version);
  }

  /** The pack the reloaded build was installed from, when it was (and is the version just loaded). */
  private packToShare(result: ReloadResult): SharedPack | undefined {
    const moduleDir = this.moduleDirOf(result.code);
    const kept = keptPack(moduleDir);
    if (kept === undefined || kept.code !== result.code || kept.version !== result.version) return undefined;
    return { ...kept, installedBy: this.packs.instance, bytes: () => keptPackBytes(moduleDir) };
  }

  /** True when the fleet's last reload of the module used no pack, or this instance holds that very pack. */
  private holdsPack(module: FleetModuleState): boolean {
    return module.packSha256 === null || keptPack(this.moduleDirOf(module.code))?.sha256 === module.packSha256;
  }

  private moduleDirOf(code: string): string {
    const recorded = this.packs.registry.find(code)?.moduleDir;
    return recorded === undefined || recorded === '' ? path.join(this.packs.modulesDir, code) : recorded;
  }

  /** Installs the fleet's pack here; false (recorded and logged) when this instance refuses it. */
  private async installFromFleet(module: FleetModuleState): Promise<boolean> {
    const { code } = module;
    const sha256 = module.packSha256!;
    try {
      const installed = await installFleetPack({ link: this.link, modulesDir: this.packs.modulesDir, trust: this.packs.trustPolicy(), code, sha256 });
      this.logger.info({ module: code, version: installed.version, packSha256: sha256 }, `fleet: installed ${code} ${installed.version} from the fleet's pack`);
      await this.record(code, 'installed', { source: 'fleet', version: installed.version, packSha256: sha256, signedBy: installed.signedBy ?? null });
      return true;
    } catch (error) {
      const reason = messageOf(error);
      this.logger.warn({ module: code, packSha256: sha256, err: reason }, `fleet: refused the fleet's pack of ${code}; this instance keeps serving what it has`);
      await this.record(code, 'failed', { operation: 'install', source: 'fleet', packSha256: sha256, reason });
      return false;
    }
  }

  private async record(code: string, kind: PluginEventKind, detail: Record<string, unknown>): Promise<void> {
    try {
      await this.packs.registry.recordEvent(code, kind, detail);
    } catch (error) {
      this.logger.error({ module: code, err: messageOf(error) }, `fleet: could not record the ${kind} event of ${code} in the registry`);
    }
  }

  private async attempt(code: string, action: string, work: () => Promise<unknown>): Promise<boolean> {
    try {
      await work();
      this.logger.info({ module: code, action }, `fleet: ${action} of ${code} applied from the registry`);
      return true;
    } catch (error) {
      this.logger.warn({ module: code, action, err: messageOf(error) }, `fleet: ${action} of ${code} from the registry failed here`);
      return false;
    }
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
