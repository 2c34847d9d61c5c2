import pino from 'pino';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every line has, or that the line's layout already shows. */
const SHOWN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'module', 'access']);

export interface PrettyOptions {
  /** ANSI colours for the level and the module (a terminal). */
  readonly colour: boolean;
  /** Where the text goes; standard output, written synchronously, by default. */
  readonly destination?: { write(text: string): unknown };
}

/**
 * A pino destination that turns each JSON line into one line a person reads:
 * `12:04:05.123 INFO  [sales] GET /api/v1/sales/summary 200 0.41 ms requestId=…`, the other fields as
 * `key=value` after the message. Written by hand rather than with pino-pretty: that package brings a
 * dozen dependencies and a worker-thread transport for what is a few lines of formatting, and this
 * stream writes synchronously, so nothing is lost when the process exits.
 */
export function createPrettyStream(options: PrettyOptions): pino.DestinationStream {
  const out = options.destination ?? pino.destination({ dest: 1, sync: true });
  // The access log hands over several lines at once.
  return { write: (text: string) => void out.write(text.split('\n').filter((line) => line !== '').map((line) => formatLine(line, options.colour)).join('')) };
}

/** One JSON log line as text; a line that is not JSON passes through unchanged. */
export function formatLine(line: string, colour: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const paint = (code: string, text: string): string => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : new Date().toISOString().slice(11, 23);
  const parts = [paint('90', time), paint(LEVEL_COLOURS[level] ?? '0', LEVEL_NAMES[level] ?? String(level))];
  if (typeof entry.module === 'string') parts.push(paint('1', `[${entry.module}]`));
  if (entry.msg !== undefined) parts.push(String(entry.msg));
  for (const [key, value] of Object.entries(entry)) {
    if (SHOWN.has(key) || value === undefined) continue;
    parts.push(`${paint('90', `${key}=`)}${typeof value === 'string' && !/[\s"=]/.test(value) ? value : JSON.stringify(value)}`);
  }
  return `${parts.join(' ')}\n`;
}
