import fs from 'node:fs';
import pino from 'pino';

/** Destinations this file made, by the file descriptor they write to. */
const DESCRIPTORS = new WeakMap<object, number>();

/**
 * Standard output as the logger's destination, written synchronously: a line logged just before a
 * native module brings the process down is on its way out already, and nothing waits in memory behind
 * a thread-pool write (asynchronous, it was most of the access log's cost: bench/internal/access-log-cost.ts).
 */
export function standardOutput(): pino.DestinationStream {
  const fd = process.stdout.fd ?? 1;
  const destination = pino.destination({ dest: fd, sync: true });
  DESCRIPTORS.set(destination, fd);
  return destination;
}

/** Writes `length` bytes of UTF-8 that are whole log lines. */
export type BytesWriter = (bytes: Buffer, length: number) => void;

/**
 * A writer of lines already encoded as bytes, to `stream` (a logger's destination). To a destination
 * from standardOutput() they go straight to its descriptor, with no copy through a string: a
 * synchronous destination never holds lines back, so they stay in order with the logger's own. Any
 * other destination (pretty output, a test's stream) takes them as text.
 */
export function bytesWriter(stream: { write(text: string): unknown }): BytesWriter {
  const fd = DESCRIPTORS.get(stream);
  if (fd === undefined) return (bytes, length) => void stream.write(bytes.toString('utf8', 0, length));
  return (bytes, length) => {
    let written = 0;
    try {
      while (written < length) written += fs.writeSync(fd, bytes, written, length - written);
    } catch {
      // A reader that is behind (EAGAIN on a non-blocking descriptor) or gone (EPIPE): the destination
      // deals with the rest as it does with its own lines (retries, or goes quiet once the reader left).
      stream.write(bytes.toString('utf8', written, length));
    }
  };
}
