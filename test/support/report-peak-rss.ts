/**
 * Preloaded into a child process (`node -r`): on exit, writes the process's peak resident memory in KiB
 * to the file named by ERPMOD_TEST_PEAK_RSS_FILE, so a test can bound what a command used.
 */
import fs from 'node:fs';

const out = process.env.ERPMOD_TEST_PEAK_RSS_FILE;
if (out !== undefined) process.on('exit', () => fs.writeFileSync(out, String(process.resourceUsage().maxRSS)));
