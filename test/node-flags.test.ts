import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HOST_NODE_FLAGS } from '../host/runtime/node-flags';
import { startHostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { CLI, ROOT } from './support/paths';

/** The arguments a process was started with, from /proc (Linux). */
function commandLineOf(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '');
}

const advisories = (logs: readonly Record<string, unknown>[]): Record<string, unknown>[] => logs.filter((entry) => String(entry.msg).includes('Node was started without'));

describe('the Node flags the host runs with (host/runtime/node-flags.ts)', () => {
  it('the erpmod command starts Node with them, and the host says nothing about flags', async () => {
    // What npm does for a package's `bin` on install.
    fs.chmodSync(CLI, 0o755);
    const host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), asCommand: true });
    try {
      const args = commandLineOf(host.child.pid!);
      for (const flag of HOST_NODE_FLAGS) assert.ok(args.includes(flag), `${flag} in ${JSON.stringify(args)}`);
      // A round trip after boot: anything boot logs is in by then.
      assert.equal((await host.admin('/plugins')).status, 200);
      assert.equal(advisories(host.logs).length, 0);
    } finally {
      assert.equal(await host.stop(), 0);
    }
  });

  it('`node erpmod.js serve` without them serves, and says once which flag is missing and how to start', async () => {
    const host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']) });
    try {
      assert.equal((await host.admin('/plugins')).status, 200);
      const said = advisories(host.logs);
      assert.equal(said.length, 1, JSON.stringify(said));
      assert.deepEqual(said[0]!.nodeFlags, ['--no-memory-reducer']);
      assert.match(String(said[0]!.msg), /start it as `node --no-memory-reducer …\/erpmod\.js serve`/);
    } finally {
      assert.equal(await host.stop(), 0);
    }
  });

  it('started with them (as npm start does), the host says nothing about flags', async () => {
    const start = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    for (const flag of HOST_NODE_FLAGS) assert.match(start, new RegExp(`node [^&]*${flag} dist/host/cli/erpmod\\.js serve`), `npm start: ${start}`);
    const host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), nodeFlags: HOST_NODE_FLAGS });
    try {
      assert.ok(commandLineOf(host.child.pid!).includes('--no-memory-reducer'));
      assert.equal((await host.admin('/plugins')).status, 200);
      assert.equal(advisories(host.logs).length, 0);
    } finally {
      assert.equal(await host.stop(), 0);
    }
  });
});
