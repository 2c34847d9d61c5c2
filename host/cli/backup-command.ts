/**
 * `erpmod backup --to DIR [--data-dir DIR] [--config FILE]`: a copy of an SQLite host's databases, taken
 * while it runs or not (host/store/sqlite/back-up-databases.ts). Exit 0 written, 1 refused or failed, 2 usage.
 */

import path from 'node:path';
import { ErpmodError } from '../errors';
import { loadConfig } from '../config/load-config';
import { positionalArgs, runVendorCommand, stringOption } from '../packaging/run-vendor-command';
import { backUpDatabases } from '../store/sqlite/back-up-databases';
import { parseOptions } from './parse-options';

export const BACKUP_USAGE = `usage: erpmod backup --to DIR [--data-dir DIR] [--config FILE]

Copies the host's databases — the registry (erpmod.sqlite) and every module's (modules/<code>.sqlite) —
into a new directory DIR/erpmod-backup-<UTC time>/, with backup.json listing each file's size and
sha256. The host may keep running: each database is read from a snapshot (the newest writes in its
-wal file included), the snapshots taken one right after the other, and each copy is checked with
PRAGMA quick_check before the directory gets its name. The admin-token file and shadow/ are not copied.
To restore: stop the host, remove erpmod.sqlite* and modules/*.sqlite* from the data directory, copy the
backup's erpmod.sqlite and modules/ there, start (docs/operations.md, "Backups").

options:
  --to DIR         where to create the backup directory (created if absent)
  --data-dir DIR   the host's data directory (default: data_dir from the configuration, ./data)
  --config FILE    the host's erpmod.config.yml

exit codes: 0 backed up, 1 refused or failed (nothing kept), 2 usage
`;

export function backupCommand(argv: readonly string[]): Promise<number> {
  return runVendorCommand(BACKUP_USAGE, argv, async () => {
    const { values, positionals } = parseOptions(argv, { to: { type: 'string' }, 'data-dir': { type: 'string' }, config: { type: 'string' } });
    positionalArgs(positionals, 0, 0, 'no positional argument');
    const to = stringOption(values.to);
    if (to === undefined) throw new ErpmodError('ERPMOD_USAGE', '--to: expected the directory to write the backup into, got nothing');
    const config = loadConfig({ configFile: stringOption(values.config), overrides: { dataDir: stringOption(values['data-dir']) } });
    if (config.databaseUrl !== undefined) {
      throw new ErpmodError(
        'ERPMOD_BACKUP_FAILED',
        'this host keeps its registry, module data and events on PostgreSQL (database_url): back that database up with pg_dump, and its module roles with pg_dumpall --roles-only (docs/operations.md, "Backups")',
      );
    }
    const backup = await backUpDatabases(config.dataDir, to);
    const total = backup.files.reduce((sum, file) => sum + file.bytes, 0);
    process.stdout.write(
      `backed up ${backup.files.length} database(s), ${total} bytes, in ${Math.round(backup.ms)} ms -> ${path.relative(process.cwd(), backup.dir) || backup.dir}\n` +
        backup.files.map((file) => `  ${file.path}  ${file.bytes} bytes  sha256 ${file.sha256}\n`).join(''),
    );
    return 0;
  });
}
