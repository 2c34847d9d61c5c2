import type { Readable } from 'node:stream';
import { BoundedLineSplitter } from './bounded-line-splitter';
import { TokenBucket } from './token-bucket';

export type RunnerStream = 'stdout' | 'stderr';

/** Where a runner's output goes: the host's log. */
export interface OutputSink {
  /** A line within the limits, passed on as it is (normally one of the runner's pino records). */
  line(text: string): void;
  /** A line longer than `maxLineBytes`: its first `maxLineBytes` bytes. */
  truncated(stream: RunnerStream, head: string, maxLineBytes: number): void;
  /** Lines dropped over the rate limit since the last report. */
  dropped(lines: number, bytes: number): void;
}

export interface OutputLimits {
  readonly maxLineBytes: number;
  readonly linesPerSecond: number;
  readonly lineBurst: number;
  readonly bytesPerSecond: number;
  readonly byteBurst: number;
  /** Reading stops for a while past this: a module that writes without end then waits on its pipe. */
  readonly readBytesPerSecond: number;
  readonly dropReportMs: number;
}

/** docs/isolation.md "A module's output": the numbers and why. */
export const OUTPUT_LIMITS: OutputLimits = {
  maxLineBytes: 64 * 1024,
  linesPerSecond: 1000,
  lineBurst: 5000,
  bytesPerSecond: 1024 * 1024,
  byteBurst: 4 * 1024 * 1024,
  readBytesPerSecond: 16 * 1024 * 1024,
  dropReportMs: 1000,
};

const KEPT_LINES = 20;
/** The crash record keeps the last lines; each is cut to this many characters there. */
const KEPT_LINE_CHARS = 4096;

/**
 * A runner's stdout and stderr, read into the host's log with bounded cost: lines capped, buffering
 * linear, a rate limit (lines and bytes per second, shared by both streams) whose excess is dropped and
 * counted in a periodic record, and a read rate past which the pipe is left to fill.
 */
export class RunnerOutput {
  private readonly lines: TokenBucket;
  private readonly bytes: TokenBucket;
  private readonly reads: TokenBucket;
  private readonly kept: string[] = [];
  private readonly splitters: BoundedLineSplitter[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private droppedLines = 0;
  private droppedBytes = 0;
  private reportTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sink: OutputSink,
    private readonly limits: OutputLimits = OUTPUT_LIMITS,
  ) {
    this.lines = new TokenBucket(limits.linesPerSecond, limits.lineBurst);
    this.bytes = new TokenBucket(limits.bytesPerSecond, limits.byteBurst);
    this.reads = new TokenBucket(limits.readBytesPerSecond, limits.readBytesPerSecond);
  }

  /** The last lines the runner wrote, for the crash record. */
  get lastLines(): readonly string[] {
    return [...this.kept];
  }

  read(stream: Readable, name: RunnerStream): void {
    const splitter = new BoundedLineSplitter(this.limits.maxLineBytes, (line, truncated) => this.accept(name, line, truncated));
    this.splitters.push(splitter);
    stream.on('data', (chunk: Buffer) => {
      splitter.push(chunk);
      const waitMs = this.reads.borrow(chunk.length);
      if (waitMs > 0 && !stream.isPaused()) {
        stream.pause();
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          stream.resume();
        }, waitMs);
        this.timers.add(timer);
      }
    });
  }

  /** The runner exited: flush what is pending and report what was dropped. */
  close(): void {
    for (const splitter of this.splitters) splitter.end();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.report();
  }

  private accept(stream: RunnerStream, line: string, truncated: boolean): void {
    if (line === '') return;
    this.kept.push(line.length > KEPT_LINE_CHARS ? `${line.slice(0, KEPT_LINE_CHARS)}…` : line);
    if (this.kept.length > KEPT_LINES) this.kept.shift();
    const size = Buffer.byteLength(line);
    if (!this.lines.take(1) || !this.bytes.take(size)) {
      this.droppedLines++;
      this.droppedBytes += size;
      this.reportTimer ??= setTimeout(() => this.report(), this.limits.dropReportMs);
      return;
    }
    if (truncated) this.sink.truncated(stream, line, this.limits.maxLineBytes);
    else this.sink.line(line);
  }

  private report(): void {
    clearTimeout(this.reportTimer);
    this.reportTimer = undefined;
    if (this.droppedLines === 0) return;
    this.sink.dropped(this.droppedLines, this.droppedBytes);
    this.droppedLines = 0;
    this.droppedBytes = 0;
  }
}
