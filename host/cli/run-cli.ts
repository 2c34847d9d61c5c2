import { ErpmodError, messageOf } from '../errors';
import { backupCommand } from './backup-command';
import { buildCommand } from './build-command';
import { checkCommand } from './check-command';
import { devCommand } from './dev-command';
import { inspectCommand } from './inspect-command';
import { installCommand } from './install-command';
import { keygenCommand } from './keygen-command';
import { newCommand } from './new-command';
import { packCommand } from './pack-command';
import { serveCommand } from './serve-command';
import { verifyCommand } from './verify-command';

const USAGE = `usage: erpmod <command> [options]

commands:
  serve     start the host (options: --port N, --admin-port N, --admin-host ADDR, --workers N, --modules-dir DIR,
            --data-dir DIR, --config FILE)
  check     check modules against the compliance rules (erpmod check --help)
  inspect   show what the checker sees in a binary (erpmod inspect --help)
  new       create a module directory that builds and passes the check (erpmod new --help)
  dev       serve modules from a local host, rebuilt and reloaded on every save (erpmod dev --help)
  build     build a module's library, or cross-build it for win32-x64 (erpmod build --help)
  pack      pack a module into a .tgz with pinned digests, optionally signed (erpmod pack --help)
  verify    check a pack's digests and signature (erpmod verify --help)
  install   verify, check and install a pack into the modules directory (erpmod install --help)
  keygen    create an Ed25519 key pair for signing packs (erpmod keygen --help)
  backup    copy the host's SQLite databases, while it runs or not (erpmod backup --help)
`;

/**
 * Dispatches a command line. Returns the exit code for commands that finish, or undefined for `serve`,
 * which keeps running until a signal stops it.
 */
export async function runCli(argv: readonly string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serveCommand(rest);
      case 'check':
        return await checkCommand(rest);
      case 'inspect':
        return inspectCommand(rest);
      case 'new':
        return await newCommand(rest);
      case 'dev':
        return await devCommand(rest);
      case 'build':
        return await buildCommand(rest);
      case 'pack':
        return await packCommand(rest);
      case 'verify':
        return await verifyCommand(rest);
      case 'install':
        return await installCommand(rest);
      case 'keygen':
        return await keygenCommand(rest);
      case 'backup':
        return await backupCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new ErpmodError('ERPMOD_USAGE', `unknown command "${command}"; expected one of: serve, check, inspect, new, dev, build, pack, verify, install, keygen, backup`);
    }
  } catch (error) {
    const code = error instanceof ErpmodError ? error.code : 'ERPMOD_INTERNAL';
    process.stderr.write(`erpmod: ${code}: ${messageOf(error)}\n`);
    return error instanceof ErpmodError && error.code === 'ERPMOD_USAGE' ? 2 : 1;
  }
}
