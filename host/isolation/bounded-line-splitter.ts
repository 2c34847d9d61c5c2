/**
 * Splits a byte stream into lines of at most `maxLineBytes`, in time linear in the input and memory
 * bounded by the cap: a line longer than the cap is handed on once, cut at the cap, the moment it
 * reaches it (so an endless line still shows up), and the rest of it, up to its newline, is dropped.
 */
export class BoundedLineSplitter {
  private readonly parts: Buffer[] = [];
  private partBytes = 0;
  /** True while skipping the rest of an over-long line, up to its newline. */
  private discarding = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: string, truncated: boolean) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline !== -1; newline = chunk.indexOf(10, start)) {
      if (this.discarding) this.discarding = false;
      else this.append(chunk.subarray(start, newline), true);
      start = newline + 1;
    }
    if (!this.discarding && start < chunk.length) this.append(chunk.subarray(start), false);
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    if (this.partBytes > 0) this.emit(false);
    this.discarding = false;
  }

  private append(bytes: Buffer, complete: boolean): void {
    const room = this.maxLineBytes - this.partBytes;
    if (bytes.length > room) {
      this.parts.push(bytes.subarray(0, room));
      this.partBytes += room;
      this.emit(true);
      // The line's newline was in this chunk: nothing more of it to skip.
      this.discarding = !complete;
      return;
    }
    // Copied: a view would keep the whole chunk it came from alive.
    if (bytes.length > 0) {
      this.parts.push(complete ? bytes : Buffer.from(bytes));
      this.partBytes += bytes.length;
    }
    if (complete) this.emit(false);
  }

  private emit(truncated: boolean): void {
    const line = (this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes)).toString('utf8');
    this.parts.length = 0;
    this.partBytes = 0;
    this.onLine(line, truncated);
  }
}
