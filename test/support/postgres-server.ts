/**
 * A real PostgreSQL for tests, from Debian's `postgresql` package: initdb + pg_ctl in a temp dir, on a
 * free loopback port, its unix socket in the same dir, stopped and removed by stop(). Running as root,
 * the cluster belongs to the `postgres` user (PostgreSQL refuses to run as root), so the temp dir is
 * chowned to it and the server tools run through runuser. fsync is off: the tests never pull the plug
 * on the machine, only on the server process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port';

export interface PostgresServer {
  readonly port: number;
  /** Superuser connection URL for a database (default `postgres`), with a password so TLS-less scram works. */
  url(database?: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): string;
  /** Stops the server (fast shutdown) keeping its data, e.g. to test an outage; start() brings it back. */
  pause(): void;
  start(): void;
  stop(): void;
  readonly dataDir: string;
  /** With `tls: true`: the PEM of the CA that signed the server's certificate (for 127.0.0.1). */
  readonly caFile: string | undefined;
}

export interface StartPostgresOptions {
  /** Serve TLS too, with a certificate for 127.0.0.1 signed by a throwaway CA. */
  readonly tls?: boolean;
}

export const POSTGRES_PASSWORD = 'erpmod-test-secret';

/** The newest installed major's bin dir, or undefined when the package is not installed. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const majors = fs
    .readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && fs.existsSync(path.join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length === 0 ? undefined : path.join(root, majors[0]!, 'bin');
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error('PostgreSQL is not installed: expected /usr/lib/postgresql/<major>/bin/initdb (Debian package postgresql)');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-pg-'));
  const dataDir = path.join(root, 'data');
  const socketDir = path.join(root, 'socket');
  fs.mkdirSync(socketDir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', root]);
  const run = (tool: string, args: string[]): void => {
    const command = asRoot ? 'runuser' : path.join(bin, tool);
    const argv = asRoot ? ['-u', 'postgres', '--', path.join(bin, tool), ...args] : args;
    const result = spawnSync(command, argv, { cwd: root, encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}`);
  };

  const passwordFile = path.join(root, 'pwfile');
  fs.writeFileSync(passwordFile, POSTGRES_PASSWORD);
  if (asRoot) execFileSync('chown', ['postgres:postgres', passwordFile]);
  run('initdb', ['-D', dataDir, '-U', 'postgres', '--pwfile', passwordFile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  fs.appendFileSync(
    path.join(dataDir, 'postgresql.conf'),
    [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${socketDir}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'max_connections = 200',
      "log_min_messages = 'warning'",
      '',
    ].join('\n'),
  );
  const caFile = options.tls === true ? writeCertificates(root, dataDir, asRoot) : undefined;
  const logFile = path.join(root, 'server.log');
  const start = (): void => run('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']);
  const pause = (): void => run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
  start();

  let stopped = false;
  const url = (database = 'postgres'): string => `postgres://postgres:${POSTGRES_PASSWORD}@127.0.0.1:${port}/${database}`;
  return {
    port,
    dataDir,
    caFile,
    url,
    createDatabase(name) {
      run('psql', ['-h', socketDir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-q', '-c', `CREATE DATABASE "${name}"`]);
      return url(name);
    },
    pause,
    start,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // Already stopped (a test paused it): removing the directory is what matters.
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A CA and a server certificate for 127.0.0.1 (subjectAltName IP), wired into postgresql.conf. */
function writeCertificates(root: string, dataDir: string, asRoot: boolean): string {
  const ssl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: root, stdio: 'ignore' });
  };
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=erpmod test CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
  ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr']);
  fs.writeFileSync(path.join(root, 'san.ext'), 'subjectAltName = IP:127.0.0.1\n');
  ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem']);
  const key = path.join(dataDir, 'server.key');
  const cert = path.join(dataDir, 'server.pem');
  fs.copyFileSync(path.join(root, 'server.key'), key);
  fs.copyFileSync(path.join(root, 'server.pem'), cert);
  fs.chmodSync(key, 0o600);
  if (asRoot) execFileSync('chown', ['postgres:postgres', key, cert]);
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `ssl = on\nssl_cert_file = '${cert}'\nssl_key_file = '${key}'\n`);
  return path.join(root, 'ca.pem');
}
