import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';

/** A real, small filesystem (tmpfs) the tests can fill up or make read-only. */
export interface SmallDisk {
  readonly dir: string;
  /** Writes a filler file until the disk refuses another byte (ENOSPC). Returns the bytes written. */
  fill(): number;
  /** Removes the filler file. */
  free(): void;
  readOnly(): void;
  writable(): void;
  unmount(): void;
}

/**
 * Why small-disk tests cannot run here, or undefined when they can. Mounting needs root (the tests and CI
 * run as root); another user gets a visible skip reason, never a silent pass.
 */
export function smallDiskUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'mounting a tmpfs needs Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (tests run as root in CI)';
  return undefined;
}

/** Mounts a tmpfs of `sizeMb` on a fresh temp directory; a failing mount fails the test with the reason. */
export function mountSmallDisk(sizeMb: number): SmallDisk {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-disk-'));
  const mount = (...args: string[]): void => {
    try {
      execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
      throw new Error(`mount ${args.join(' ')} failed (${stderr || (error as Error).message}); these tests need a real small disk: run them as root where mounting is allowed`);
    }
  };
  mount('-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir);
  let mounted = true;
  // Unmounted (and its mount point removed) even when a test fails half way.
  const unmount = (): void => {
    if (!mounted) return;
    mounted = false;
    execFileSync('umount', ['-l', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', unmount);
  const filler = path.join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = fs.openSync(filler, 'a');
      let written = 0;
      try {
        // Big chunks first, then smaller ones, so the last partly used page is filled too.
        for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 8, 1]) {
          const chunk = Buffer.alloc(size, 0x55);
          for (;;) {
            try {
              written += fs.writeSync(fd, chunk);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
              break;
            }
          }
        }
      } finally {
        fs.closeSync(fd);
      }
      return written;
    },
    free() {
      fs.rmSync(filler, { force: true });
    },
    readOnly() {
      mount('-o', 'remount,ro', dir);
    },
    writable() {
      mount('-o', 'remount,rw', dir);
    },
    unmount,
  };
}
