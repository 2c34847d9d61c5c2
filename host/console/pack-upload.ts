import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { OperatorActions } from '../cluster/fan-out-operator';
import type { CheckReport } from '../compliance/report/check-report';
import { formatText } from '../compliance/report/format-text';
import { ErpmodError, isErpmodError, messageOf } from '../errors';
import type { PluginRepository } from '../registry/plugin-repository';
import { installPack } from '../packaging/install-pack';
import type { TrustPolicy } from '../packaging/trust-policy';
import type { Finding } from '../packaging/verify-module-dir';
import type { PackPreviewShape } from './console-shapes';

/** The largest pack the console takes (base64 in JSON makes the request a third larger). */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;
/** How long an uploaded, checked pack waits for its "apply". */
export const UPLOAD_TTL_MS = 30 * 60 * 1000;

export interface PackUploadOptions {
  readonly modulesDir: string;
  readonly dataDir: string;
  readonly trustPolicy: () => TrustPolicy;
  readonly registry: PluginRepository;
  readonly operator: OperatorActions;
}

export interface PackPreview extends PackPreviewShape {
  readonly check: CheckReport | null;
}

/**
 * Installing a pack from the console in two steps. Preview runs `erpmod install`'s whole pipeline
 * (verify, compliance check with its load phase in a throw-away child) into an empty scratch modules
 * directory, so the operator sees exactly what installing would find, and nothing served changes. Apply
 * installs the same file into the modules directory (checked again: the trust settings may have changed)
 * and reloads the module. The upload waits in `<data_dir>/console-uploads/`, which every cluster worker
 * shares, so apply may land on another worker than preview. In a fleet on PostgreSQL that reload
 * stores the pack for the other instances, which install the same bytes and reload too.
 */
export class PackUploads {
  private readonly dir: string;

  constructor(private readonly options: PackUploadOptions) {
    this.dir = path.join(options.dataDir, 'console-uploads');
  }

  async preview(bytes: Buffer): Promise<PackPreview> {
    if (bytes.length === 0 || bytes.length > MAX_UPLOAD_BYTES) {
      throw new ErpmodError('ERPMOD_PACK_INVALID', `expected a pack of 1 byte to ${MAX_UPLOAD_BYTES / 1024 / 1024} MiB, got ${bytes.length} bytes`);
    }
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.forgetStale();
    const uploadId = crypto.randomBytes(16).toString('hex');
    const file = this.fileOf(uploadId);
    fs.writeFileSync(file, bytes, { mode: 0o600 });
    const scratch = fs.mkdtempSync(path.join(this.dir, 'preview-'));
    try {
      const result = await installPack(file, { modulesDir: scratch, trust: this.options.trustPolicy() });
      return {
        ok: true, uploadId, code: result.code, version: result.version, replaces: this.options.registry.find(result.code)?.version ?? null,
        signedBy: result.signedBy ?? null, findings: result.findings, check: result.check, checkText: textOf(result.check), error: null,
      };
    } catch (error) {
      fs.rmSync(file, { force: true });
      if (!isErpmodError(error)) throw error;
      const check = (error.details?.check as CheckReport | undefined) ?? null;
      return {
        ok: false, uploadId: null, code: null, version: null, replaces: null, signedBy: null,
        findings: (error.details?.findings as Finding[] | undefined) ?? [], check, checkText: check === null ? null : textOf(check),
        error: { code: error.code, message: error.message.replaceAll(file, 'the uploaded pack') },
      };
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }

  /** @throws ErpmodError ERPMOD_NOT_FOUND for an unknown or expired upload; install's own errors otherwise. */
  async apply(uploadId: string): Promise<Record<string, unknown>> {
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw new ErpmodError('ERPMOD_NOT_FOUND', `expected an uploadId from a preview (32 hex digits), got ${JSON.stringify(uploadId).slice(0, 80)}`);
    const file = this.fileOf(uploadId);
    // Renaming claims the upload: a second apply of the same id finds nothing.
    const claimed = `${file}.applying`;
    try {
      if (Date.now() - fs.statSync(file).mtimeMs > UPLOAD_TTL_MS) throw new Error('expired');
      fs.renameSync(file, claimed);
    } catch {
      throw new ErpmodError('ERPMOD_NOT_FOUND', `no uploaded pack ${uploadId} waits to be applied (applied already, or older than ${UPLOAD_TTL_MS / 60_000} minutes); upload it again`);
    }
    try {
      const installed = await installPack(claimed, { modulesDir: this.options.modulesDir, trust: this.options.trustPolicy() });
      const summary = { code: installed.code, version: installed.version, replaced: installed.replaced ?? null, signedBy: installed.signedBy ?? null };
      try {
        return { installed: summary, reloaded: true, reload: await this.options.operator.reload(installed.code) };
      } catch (error) {
        return { installed: summary, reloaded: false, reloadError: { code: isErpmodError(error) ? error.code : 'ERPMOD_INTERNAL', message: messageOf(error) } };
      }
    } catch (error) {
      if (isErpmodError(error)) throw new ErpmodError(error.code, error.message.replaceAll(claimed, 'the uploaded pack'), { cause: error });
      throw error;
    } finally {
      fs.rmSync(claimed, { force: true });
    }
  }

  private fileOf(uploadId: string): string {
    return path.join(this.dir, `${uploadId}.tgz`);
  }

  /** Uploads nobody applied, and scratch directories a crash left behind. */
  private forgetStale(): void {
    for (const name of fs.readdirSync(this.dir)) {
      const full = path.join(this.dir, name);
      try {
        if (Date.now() - fs.statSync(full).mtimeMs > UPLOAD_TTL_MS) fs.rmSync(full, { recursive: true, force: true });
      } catch {
        // Gone meanwhile (another worker): nothing to do.
      }
    }
  }
}

/** The CLI's text report, paths relative to the unpacked module's parent: `sales/lib/...`, not the scratch directory. */
function textOf(check: CheckReport): string {
  const dir = check.modules[0]?.dir;
  return formatText(check, dir === undefined ? {} : { cwd: path.dirname(dir) });
}
