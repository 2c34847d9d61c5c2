import fs from 'node:fs';

/** User plus system CPU time of a process so far (all its threads), in µs, from /proc (Linux; clock ticks of 10 ms). */
export function cpuMicros(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // After "pid (comm) ", utime and stime are the 12th and 13th fields.
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
