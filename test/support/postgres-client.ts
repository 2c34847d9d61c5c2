import pg from 'pg';

/** A connection of its own to `url` for `work`, closed afterwards whatever `work` did: for a test looking into (or at) the database directly. */
export async function withPostgresClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
