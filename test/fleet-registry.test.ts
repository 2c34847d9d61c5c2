/**
 * A fleet on one PostgreSQL shares its registry and its module binaries: a pack installed through one
 * instance is served by the others within seconds, from the same sha256-checked bytes; an instance whose
 * trust policy refuses the pack keeps serving what it has and records why; GET /plugins through any
 * instance shows every instance's state; and a registry write PostgreSQL cannot take is refused whole.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErpmodError } from '../host/errors';
import { createLogger } from '../host/logger';
import { packModule } from '../host/packaging/pack-module';
import { generateKeyPair } from '../host/packaging/signing-keys';
import type { PluginRecord } from '../host/registry/plugin-repository';
import { PostgresRegistry } from '../host/registry/postgres/postgres-registry';
import { buildScaffoldVersion } from './support/build-scaffold-version';
import { describeRun, erpmod } from './fixtures/vendor/vendor-cli';
import { call } from './support/http-client';
import { makeTempDir, startHostProcess, type HostProcess } from './support/host-process';
import { withPostgresClient } from './support/postgres-client';
import { startPostgres, type PostgresServer } from './support/postgres-server';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, withinMs = 15_000): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  let value = await read();
  while (!done(value) && performance.now() - started < withinMs) {
    await sleep(50);
    value = await read();
  }
  assert.ok(done(value), `${what} (last seen: ${JSON.stringify(value).slice(0, 600)})`);
  return { value, ms: performance.now() - started };
}

describe('a fleet shares its registry and its installed packs', () => {
  const scratch = makeTempDir('fleet-registry');
  let server: PostgresServer;
  let url: string;
  const hosts: Record<'a' | 'b' | 'c', HostProcess> = {} as Record<'a' | 'b' | 'c', HostProcess>;
  const modulesDirs: Record<string, string> = {};
  const packs: Record<string, string> = {};

  before(async () => {
    const vendor = generateKeyPair(path.join(scratch, 'vendor'));
    const stranger = generateKeyPair(path.join(scratch, 'stranger'));
    for (const version of ['1.0.0', '1.1.0']) {
      packs[version] = packModule(buildScaffoldVersion('fleetmod', version), { keyFile: vendor.privateKeyFile, out: path.join(scratch, `fleetmod-${version}.tgz`) }).file;
    }
    server = await startPostgres();
    url = server.createDatabase('fleetreg');
    // Three machines, each its own (empty) modules directory; C trusts only a key that did not sign the packs.
    for (const name of ['a', 'b', 'c'] as const) {
      modulesDirs[name] = makeTempDir(`modules-${name}`);
      const trust: Record<string, string> = name === 'c' ? { ERPMOD_TRUSTED_KEYS: fs.readFileSync(stranger.publicKeyFile, 'utf8').trim() } : {};
      hosts[name] = await startHostProcess({ modulesDir: modulesDirs[name]!, env: { ERPMOD_DATABASE_URL: url, ERPMOD_INSTANCE_NAME: name, ...trust }, timeoutMs: 60_000 });
    }
  });
  after(async () => {
    await Promise.all(Object.values(hosts).map((host) => host.stop()));
    server?.stop();
  });

  const install = async (version: string, through: HostProcess, modulesDir: string): Promise<void> => {
    const result = await erpmod(['install', packs[version]!, '--modules-dir', modulesDir, '--reload', '--admin-url', through.adminUrl, '--admin-token', through.adminToken, '--static-only'], scratch);
    assert.equal(result.code, 0, describeRun(result));
  };
  const greeting = (host: HostProcess) => async (): Promise<{ status: number; version?: string; text: string }> => {
    const reply = await call(`${host.url}/api/v1/fleetmod/greetings/ada`);
    return { status: reply.status, version: reply.json?.version, text: reply.text };
  };
  const record = async (host: HostProcess): Promise<PluginRecord & { events: { kind: string; instance?: string; detail: Record<string, unknown> }[] }> =>
    (await host.admin('/plugins/fleetmod')).json;

  it('serves a pack installed through A on B within seconds, with the same registry row, and upgrades through B reach A', async () => {
    const { a, b } = hosts;
    await install('1.0.0', a, modulesDirs.a!);
    const reached = await waitFor('B serves fleetmod 1.0.0, installed only through A', greeting(b), (r) => r.status === 200 && r.version === '1.0.0');
    assert.ok(reached.ms < 10_000, `reached B in ${Math.round(reached.ms)} ms`);
    const onA = await record(a);
    const onB = await record(b);
    for (const field of ['code', 'version', 'name', 'enabled', 'endpoints'] as const) assert.deepEqual(onB[field], onA[field], `B's row has A's ${field}`);
    assert.equal(onB.binarySha256, onA.binarySha256, 'B loaded the very bytes A loaded');
    const kept = (dir: string): string => JSON.parse(fs.readFileSync(path.join(dir, 'fleetmod', '.erpmod-pack.json'), 'utf8')).sha256;
    assert.equal(kept(modulesDirs.b!), kept(modulesDirs.a!), 'B installed the pack A installed');
    assert.ok(onB.events.some((event) => event.kind === 'installed' && event.instance === 'b' && event.detail.source === 'fleet'), 'B recorded installing it from the fleet');

    await install('1.1.0', b, modulesDirs.b!);
    await waitFor('A serves 1.1.0, installed only through B', greeting(a), (r) => r.status === 200 && r.version === '1.1.0');
    assert.equal((await record(a)).version, '1.1.0');
  });

  it('lists every instance\'s own state for a module through any instance', async () => {
    const { a, b } = hosts;
    const { value: row } = await waitFor('B lists A and B active on the same build', () => record(b), (r) =>
      ['a', 'b'].every((name) => r.instances?.some((i) => i.instance === name && i.status === 'active' && i.binarySha256 === r.binarySha256)));
    assert.equal(row.status, 'active', "the row's own status is B's");
    const list = (await b.admin('/plugins')).json as PluginRecord[];
    assert.deepEqual(list.find((p) => p.code === 'fleetmod')?.instances?.map((i) => i.instance).sort(), ['a', 'b'], 'GET /plugins carries the same per-instance rows');
    const events = (await record(a)).events;
    assert.ok(events.some((event) => event.kind === 'reloaded' && event.instance === 'b'), "A's audit trail shows B's reload, naming B");
  });

  it('keeps serving what it has on an instance whose trust policy refuses the fleet\'s pack, and records why', async () => {
    const { a, c } = hosts;
    const { value } = await waitFor('C recorded refusing the pack', () => record(a), (r) =>
      r.events.some((event) => event.kind === 'failed' && event.instance === 'c' && event.detail.operation === 'install'));
    const refusal = value.events.find((event) => event.kind === 'failed' && event.instance === 'c')!;
    assert.match(String(refusal.detail.reason), /not among the trusted keys|signature/, String(refusal.detail.reason));
    assert.equal((await call(`${c.url}/api/v1/fleetmod/greetings/ada`)).status, 404, 'C serves nothing it could not verify');
    assert.ok(!fs.existsSync(path.join(modulesDirs.c!, 'fleetmod')), "C's modules directory is unchanged");
  });

  it('refuses a registry write whole while PostgreSQL is down, and keeps nothing of a batch that fails half-way', async () => {
    const logger = createLogger('silent');
    const registry = await PostgresRegistry.open({ url, sslMode: undefined, sslCaFile: undefined, poolSize: 2, connectTimeoutMs: 2000 }, 'probe', logger);
    const eventsOf = (): Promise<number> =>
      withPostgresClient(url, async (client) => Number((await client.query("SELECT count(*) AS n FROM erpmod_fleet.plugin_events WHERE instance = 'probe'")).rows[0].n));
    try {
      // Half-way: the first statement is fine, the second names a module the registry does not have.
      await assert.rejects(registry.batch((writes) => {
        writes.recordEvent('fleetmod', 'toggled', { probe: 1 });
        writes.recordEvent('no-such-module', 'toggled', { probe: 2 });
      }));
      assert.equal(await eventsOf(), 0, 'the batch\'s first write was not kept');

      server.pause();
      try {
        const started = performance.now();
        await assert.rejects(registry.batch((writes) => writes.recordEvent('fleetmod', 'toggled', { probe: 3 })), (error: unknown) => {
          assert.ok(error instanceof ErpmodError, String(error));
          assert.equal(error.code, 'ERPMOD_DATABASE_UNAVAILABLE');
          assert.match(error.message, /registry could not be written, nothing of this change was kept/);
          assert.match(error.message, /127\.0\.0\.1/, 'names the server');
          assert.doesNotMatch(error.message, /erpmod-test-secret/, 'never the password');
          return true;
        });
        assert.ok(performance.now() - started < 5000, 'refused quickly');
      } finally {
        server.start();
      }
      await registry.refresh();
      assert.equal(await eventsOf(), 0, 'nothing was written while the server was down');
      assert.equal(registry.find('fleetmod')?.version, (await record(hosts.a)).version, 'the mirror reads the fleet again');
    } finally {
      await registry.close();
    }
  });
  it('shows which instances are live, and drops the rows of an instance gone for an hour (keeping its events and older versions\' rows)', async () => {
    const { a, b } = hosts;
    const sql = (text: string): Promise<unknown> => withPostgresClient(url, (client) => client.query(text));
    await waitFor('A shows A and B live, each with when it was last heard of', () => record(a), (r) =>
      ['a', 'b'].every((name) => r.instances?.some((i) => i.instance === name && i.live === true && i.lastSeenAt !== null)));
    // An instance of an earlier version never beats: its row says nothing of its liveness, and is kept.
    await sql(`INSERT INTO erpmod_fleet.plugin_instances (code, instance, module_dir, status, updated_at) VALUES ('fleetmod', 'earlier', '/srv/modules/fleetmod', 'active', now() - interval '2 days')`);
    await sql('UPDATE erpmod_fleet.registry_version SET version = version + 1 WHERE id = 1'); // as that instance's write would announce it

    await b.stop();
    await sql(`UPDATE erpmod_fleet.instances SET seen_at = now() - interval '20 seconds' WHERE instance = 'b'`);
    const { value: quiet } = await waitFor('A shows B as not live once it missed three beats', () => record(a), (r) =>
      r.instances?.find((i) => i.instance === 'b')?.live === false);
    assert.equal(quiet.instances?.find((i) => i.instance === 'a')?.live, true, 'A itself is live');
    assert.deepEqual(
      quiet.instances?.find((i) => i.instance === 'earlier'),
      { instance: 'earlier', status: 'active', lastError: null, loadedAt: null, binarySha256: null, updatedAt: quiet.instances?.find((i) => i.instance === 'earlier')?.updatedAt, lastSeenAt: null, live: null },
      'a row no beat vouches for: liveness unknown',
    );

    await sql(`UPDATE erpmod_fleet.instances SET seen_at = now() - interval '2 hours' WHERE instance = 'b'`);
    const { value: pruned } = await waitFor('the fleet drops B\'s rows once it is gone for an hour', () => record(a), (r) =>
      r.instances !== undefined && !r.instances.some((i) => i.instance === 'b'));
    // C refused the pack, so it has no row for this module.
    assert.deepEqual(pruned.instances?.map((i) => i.instance).sort(), ['a', 'earlier'], 'the live instance and the earlier version\'s row stay');
    assert.ok(pruned.events.some((event) => event.instance === 'b'), "B's audit events stay");
    const list = (await a.admin('/plugins')).json as PluginRecord[];
    assert.ok(!list.some((p) => p.instances?.some((i) => i.instance === 'b')), 'GET /plugins no longer lists B anywhere');
  });
});
