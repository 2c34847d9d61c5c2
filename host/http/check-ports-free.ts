import net from 'node:net';
import { ErpmodError, messageOf } from '../errors';

export type ListenerName = 'public' | 'admin';

interface Listener {
  readonly name: ListenerName;
  readonly host: string;
  readonly port: number;
}

/**
 * Binds each configured port for a moment and lets it go, so a port taken by another process is found
 * before any module is discovered, booted or migrated, not after. Port 0 (any free port) needs no check.
 * A cluster primary calls this before forking; a worker relies on its listen error (which names the
 * port too), since its binds go through the primary.
 */
export async function checkPortsFree(config: { readonly host: string; readonly port: number; readonly adminHost: string; readonly adminPort: number }): Promise<void> {
  const listeners: Listener[] = [
    { name: 'public', host: config.host, port: config.port },
    { name: 'admin', host: config.adminHost, port: config.adminPort },
  ];
  for (const listener of listeners) {
    if (listener.port !== 0) await probe(listener);
  }
}

function probe(listener: Listener): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (error) => reject(listenError(error, listener.name, listener.host, listener.port)));
    server.listen({ port: listener.port, host: listener.host, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** A failed listen in words: which listener, which address, and what to do. */
export function listenError(error: unknown, name: ListenerName, host: string, port: number): ErpmodError {
  const setting = name === 'public' ? 'port (--port, ERPMOD_PORT)' : 'admin_port (--admin-port, ERPMOD_ADMIN_PORT)';
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return new ErpmodError('ERPMOD_PORT_IN_USE', `the ${name} listener cannot bind ${host}:${port}: another process already listens on port ${port}; stop it or choose another ${setting}`, { cause: error });
  }
  const where = name === 'public' ? 'host / port' : 'admin_host / admin_port';
  return new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: the ${name} listener cannot bind ${host}:${port}: ${messageOf(error)}`, { cause: error });
}
