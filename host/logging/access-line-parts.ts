/**
 * The parts of an access-log line that do not depend on the request itself, encoded once and copied
 * into every line that needs them (host/logging/access-log.ts).
 */

/**
 * The parts of a line that depend only on its method, its status or the millisecond it ended in,
 * encoded once: `{"level":30,"time":"…","pid":…,"access":true,"method":"GET","path":"` per method and
 * millisecond, `","status":200,"durationMs":` and ` 200 ` per status, `","msg":"GET ` per method.
 */
export class LineParts {
  private readonly methods = new Map<string, MethodParts>();
  private readonly statuses = new Map<number, StatusParts>();
  // Lines in a row mostly share their method and status: the last answer is kept to skip the Map.
  private lastMethod = '';
  private lastMethodParts: MethodParts | undefined;
  private lastStatus = -1;
  private lastStatusParts: StatusParts | undefined;

  constructor(private readonly levelNumber: number) {}

  forMethod(method: string): MethodParts {
    if (method === this.lastMethod && this.lastMethodParts !== undefined) return this.lastMethodParts;
    let parts = this.methods.get(method);
    if (parts === undefined) {
      parts = new MethodParts(`{"level":${this.levelNumber},"time":"`, `","pid":${process.pid},"access":true,"method":"${method}","path":"`, method);
      this.methods.set(method, parts);
    }
    this.lastMethod = method;
    this.lastMethodParts = parts;
    return parts;
  }

  forStatus(status: number): StatusParts {
    if (status === this.lastStatus && this.lastStatusParts !== undefined) return this.lastStatusParts;
    let parts = this.statuses.get(status);
    if (parts === undefined) {
      parts = { field: Buffer.from(`","status":${status},"durationMs":`), message: Buffer.from(` ${status} `) };
      this.statuses.set(status, parts);
    }
    this.lastStatus = status;
    this.lastStatusParts = parts;
    return parts;
  }
}

export interface StatusParts {
  readonly field: Uint8Array;
  readonly message: Uint8Array;
}

export class MethodParts {
  readonly message: Uint8Array;
  private head: Uint8Array = new Uint8Array(0);
  private headSecond = Number.NaN;
  /** Where the head's three millisecond digits are (before the time's `Z`). */
  private millisecondsAt = 0;

  constructor(
    private readonly beforeTime: string,
    private readonly afterTime: string,
    method: string,
  ) {
    this.message = Buffer.from(`","msg":"${method} `);
  }

  /**
   * Writes the line's start up to the path's opening quote, for a line that ended in millisecond `ms`.
   * The head is encoded once per second and its millisecond digits written in: a busy host ends a few
   * requests per millisecond, and encoding the head again for each millisecond cost about a third of a
   * line's encoding.
   */
  writeHead(into: Buffer, at: number, ms: number): number {
    const second = Math.floor(ms / 1000);
    if (second !== this.headSecond) {
      this.headSecond = second;
      const iso = new Date(second * 1000).toISOString();
      this.head = Buffer.from(`${this.beforeTime}${iso}${this.afterTime}`, 'latin1');
      // `….000Z`: four bytes before the time's end.
      this.millisecondsAt = this.beforeTime.length + iso.length - 4;
    }
    into.set(this.head, at);
    const milliseconds = ms - second * 1000;
    const digits = at + this.millisecondsAt;
    into[digits] = 48 + Math.floor(milliseconds / 100);
    into[digits + 1] = 48 + (Math.floor(milliseconds / 10) % 10);
    into[digits + 2] = 48 + (milliseconds % 10);
    return at + this.head.length;
  }
}

/**
 * `","module":"<code>","version":"<version>","requestId":"` per module, encoded once per version (a
 * reload to another version encodes the new one).
 */
export class ModuleParts {
  private readonly byModule = new Map<string, { readonly version: string | undefined; readonly bytes: Uint8Array }>();

  of(module: string, version: string | undefined): Uint8Array {
    const known = this.byModule.get(module);
    if (known !== undefined && known.version === version) return known.bytes;
    const bytes = Buffer.from(`,"module":"${module}",${version === undefined ? '' : `"version":"${version}",`}"requestId":"`);
    this.byModule.set(module, { version, bytes });
    return bytes;
  }
}
