import pg from 'pg';

/**
 * A statement sent together with the statements that must run just before it (a transaction's `BEGIN`,
 * and the module's write lock), in one round trip and one pipeline segment: PostgreSQL runs them in
 * order and, if one fails, skips the rest up to the segment's end — the statement never runs outside
 * the transaction its `BEGIN` would have opened. Without it every transaction pays a round trip for
 * `BEGIN` alone (two per sales order on PostgreSQL: sales' and inventory's transactions).
 *
 * `leading` are statements of ours without parameters. A query given as text (several statements, the
 * simple protocol) gets them as a prefix; one with parameters goes through LeadingQuery below.
 */
export function queryAfter(client: pg.PoolClient, leading: readonly string[], config: string | pg.QueryConfig): Promise<pg.QueryResult> {
  if (typeof config === 'string') return client.query(`${leading.join('; ')}; ${config}`);
  return new Promise((resolve, reject) => {
    client.query(new LeadingQuery(leading, config, (error, result) => (error ? reject(error) : resolve(result))) as unknown as pg.Submittable);
  });
}

type Callback = (error: Error | null, result: pg.QueryResult) => void;

/**
 * node-postgres' own extended-protocol query, preceded on the wire by Parse/Bind/Execute of each
 * leading statement (unnamed, no Describe, no Sync of their own); their replies (a command tag, the
 * lock's one row) are passed over, so the query's result is the statement's alone.
 */
class LeadingQuery extends (pg.Query as unknown as new (config: pg.QueryConfig, values: undefined, callback: Callback) => PgQueryInternals) {
  /** Command tags still to come from the leading statements. */
  private pending: number;
  private parsedBefore = false;

  constructor(
    private readonly leading: readonly string[],
    config: pg.QueryConfig,
    callback: Callback,
  ) {
    // Extended even without parameters: a simple Query message may not follow Parse/Bind/Execute in one segment.
    super({ ...config, queryMode: 'extended' } as pg.QueryConfig, undefined, callback);
    this.pending = leading.length;
  }

  override submit(connection: PgConnectionInternals): Error | null {
    this.parsedBefore = this.name !== undefined && connection.parsedStatements[this.name] !== undefined;
    connection.stream.cork();
    try {
      for (const text of this.leading) {
        connection.parse({ text, name: '', types: [] });
        connection.bind({ portal: '', statement: '', values: [] });
        connection.execute({ portal: '', rows: 0 });
      }
      return super.submit(connection);
    } finally {
      connection.stream.uncork();
    }
  }

  override handleDataRow(message: unknown): void {
    if (this.pending === 0) super.handleDataRow(message);
  }

  override handleCommandComplete(message: unknown, connection: PgConnectionInternals): void {
    if (this.pending > 0) {
      this.pending--;
      return;
    }
    super.handleCommandComplete(message, connection);
  }

  override handleError(error: Error, connection: PgConnectionInternals | undefined): void {
    // node-postgres records a named statement as parsed on the first ParseComplete of the round trip,
    // which here was a leading statement's: if the statement itself then failed, it was never prepared.
    if (this.name && !this.parsedBefore && connection !== undefined) delete connection.parsedStatements[this.name];
    super.handleError(error, connection);
  }
}

/** The parts of node-postgres' Query and Connection this file relies on (not in its type declarations). */
interface PgQueryInternals {
  name: string | undefined;
  submit(connection: PgConnectionInternals): Error | null;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: PgConnectionInternals): void;
  handleError(error: Error, connection: PgConnectionInternals | undefined): void;
}

interface PgConnectionInternals {
  readonly stream: { cork(): void; uncork(): void };
  readonly parsedStatements: Record<string, string | undefined>;
  parse(query: { text: string; name: string; types: unknown[] }): void;
  bind(config: { portal: string; statement: string; values: unknown[] }): void;
  execute(config: { portal: string; rows: number }): void;
}
