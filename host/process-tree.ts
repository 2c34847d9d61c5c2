import fs from 'node:fs';

/**
 * The children of `parent`, from /proc/<pid>/task/<tid>/children (each thread lists the children it
 * started), or by their PPid where those files are missing (a kernel built without them). Empty where
 * there is no /proc or `parent` is gone.
 */
export function childrenOf(parent: number): number[] {
  try {
    return fs.readdirSync(`/proc/${parent}/task`).flatMap((thread) => {
      const text = fs.readFileSync(`/proc/${parent}/task/${thread}/children`, 'utf8').trim();
      return text === '' ? [] : text.split(' ').map(Number);
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !fs.existsSync(`/proc/${parent}/task`)) return [];
  }
  const found: number[] = [];
  const pattern = new RegExp(`^PPid:\\s*${parent}$`, 'm');
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (pattern.test(fs.readFileSync(`/proc/${name}/status`, 'utf8'))) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Every process below `root`, children before their own children. A sandbox's processes live in their
 * own PID namespace and die only after its init does: a caller that must know they are gone waits for
 * these, not only for its direct child.
 */
export function descendantsOf(root: number): number[] {
  const found: number[] = [];
  for (let i = -1; i < found.length; i++) {
    for (const child of childrenOf(i === -1 ? root : found[i]!)) if (!found.includes(child)) found.push(child);
  }
  return found;
}

/** Whether `pid` still runs: a zombie has stopped running and only waits for its parent to read its status. */
function isRunning(pid: number): boolean {
  try {
    // The state follows the command name, which is in parentheses and may itself contain them.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

const GONE_POLL_MS = 10;

/** Resolves once none of `pids` runs, or after `withinMs` (a process stuck in the kernel can outlive SIGKILL). */
export async function waitUntilGone(pids: readonly number[], withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (pids.some(isRunning) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, GONE_POLL_MS));
}
