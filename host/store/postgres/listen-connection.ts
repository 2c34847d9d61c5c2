import pg from 'pg';

export interface ListenConnectionOptions {
  readonly connection: pg.ClientConfig;
  /** The connection's application_name, as pg_stat_activity shows it. */
  readonly name: string;
  readonly channel: string;
  /** A notification on the channel, with its payload ('' when it has none). */
  readonly onNotification: (payload: string) => void;
  /** Once, when the connection ends or fails after it was listening (not when opening it fails: that rejects). */
  readonly onLost: (reason: string) => void;
}

/**
 * A connection of its own that LISTENs on one channel: a pooled connection cannot, as LISTEN belongs to
 * its session. Resolves once listening; rejects, having closed the connection, when it could not
 * connect or listen. The event bus and the fleet link each keep one.
 */
export async function openListenConnection(options: ListenConnectionOptions): Promise<pg.Client> {
  const client = new pg.Client({ ...options.connection, application_name: options.name, keepAlive: true });
  let listening = false;
  const lost = (reason: string): void => {
    if (!listening) return;
    listening = false;
    client.removeAllListeners('notification');
    void client.end().catch(() => undefined);
    options.onLost(reason);
  };
  client.on('error', (error) => lost(error.message));
  client.on('end', () => lost('connection ended'));
  client.on('notification', (message) => {
    if (message.channel === options.channel) options.onNotification(message.payload ?? '');
  });
  try {
    await client.connect();
    await client.query(`LISTEN ${options.channel}`);
  } catch (error) {
    void client.end().catch(() => undefined);
    throw error;
  }
  listening = true;
  return client;
}
