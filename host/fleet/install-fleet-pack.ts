import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErpmodError } from '../errors';
import { installPack, type InstallResult } from '../packaging/install-pack';
import { sha256Of } from '../packaging/kept-pack';
import type { TrustPolicy } from '../packaging/trust-policy';
import type { PostgresFleetLink } from './postgres-fleet-link';

export interface FleetPackInstall {
  readonly link: PostgresFleetLink;
  readonly modulesDir: string;
  readonly trust: TrustPolicy;
  readonly code: string;
  /** The pack's sha256 the fleet's last reload recorded: the only bytes this instance takes. */
  readonly sha256: string;
}

/**
 * Installs the pack the fleet keeps for a module into this instance's modules directory: the bytes
 * read from PostgreSQL must have the recorded sha256, then they go through `erpmod install` here with
 * this instance's own trust policy (signature, pinned binary digests) and the static compliance check.
 * The load phase is left to the reload that follows, which loads the module the way it will serve.
 *
 * @throws ErpmodError ERPMOD_PACK_REJECTED when the bytes are not the recorded ones or this instance's
 *   checks refuse them; install's own errors otherwise. The modules directory is then unchanged.
 */
export async function installFleetPack(request: FleetPackInstall): Promise<InstallResult> {
  const stored = await request.link.pack(request.code);
  if (stored === undefined || stored.sha256 !== request.sha256) {
    throw new ErpmodError('ERPMOD_PACK_REJECTED', `the fleet reloaded ${request.code} from pack sha256 ${request.sha256}, but keeps ${stored === undefined ? 'no pack for it' : `pack ${stored.sha256}`}; install and reload it again through one instance`);
  }
  const actual = sha256Of(stored.bytes);
  if (actual !== request.sha256) {
    throw new ErpmodError('ERPMOD_PACK_REJECTED', `the pack of ${request.code} read from the fleet has sha256 ${actual}, expected ${request.sha256}: refused, nothing installed`);
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-fleet-pack-'));
  try {
    const file = path.join(scratch, `${request.code}-${stored.version}.tgz`);
    fs.writeFileSync(file, stored.bytes, { mode: 0o600 });
    return await installPack(file, { modulesDir: request.modulesDir, trust: request.trust, staticOnly: true });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
