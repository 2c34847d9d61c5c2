import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { childrenOf, descendantsOf, waitUntilGone } from '../host/process-tree';

/** The command name of a running process, or undefined once it is gone or a zombie. */
function runningCommand(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] === 'Z' ? undefined : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  } catch {
    return undefined;
  }
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('process tree', { skip: process.platform !== 'linux' }, () => {
  it('finds a child, its grandchild, and a sibling; once they are killed it waits until none of them runs', async () => {
    // sh → (sleep, sh → sleep): the second sleep is a grandchild the first level does not show.
    const root = spawn('sh', ['-c', 'sleep 30 & sh -c "sleep 31; true" & wait'], { stdio: 'ignore' });
    // Until both sleeps have replaced the shells forked to start them (a fork runs as `sh` until its exec).
    await until(() => descendantsOf(root.pid!).filter((pid) => runningCommand(pid) === 'sleep').length === 2);
    const found = descendantsOf(root.pid!);
    assert.deepEqual(found.map(runningCommand).sort(), ['sh', 'sleep', 'sleep']);
    assert.equal(childrenOf(root.pid!).length, 2, 'the direct children are the first sleep and the inner sh');
    for (const pid of [root.pid!, ...found]) process.kill(pid, 'SIGKILL');
    await waitUntilGone(found, 5000);
    assert.deepEqual(found.filter((pid) => runningCommand(pid) !== undefined), []);
  });

  it('finds a child started by another thread than the main one', async () => {
    // A Node process whose worker thread starts `sleep`: the kernel lists it under that thread only.
    const script = "const { Worker } = require('node:worker_threads'); new Worker(\"require('node:child_process').spawn('sleep', ['32'], { stdio: 'ignore' }); setInterval(() => {}, 1000)\", { eval: true });";
    const root = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    await until(() => descendantsOf(root.pid!).some((pid) => runningCommand(pid) === 'sleep'));
    const found = descendantsOf(root.pid!);
    try {
      assert.deepEqual(found.map(runningCommand), ['sleep']);
      assert.equal(fs.readFileSync(`/proc/${root.pid}/task/${root.pid}/children`, 'utf8').trim(), '', 'the main thread does not list it');
    } finally {
      for (const pid of [root.pid!, ...found]) process.kill(pid, 'SIGKILL');
    }
  });

  it('has nothing below a process that is gone', () => {
    assert.deepEqual(descendantsOf(2 ** 22 + 1), []);
    assert.deepEqual(childrenOf(2 ** 22 + 1), []);
  });
});
