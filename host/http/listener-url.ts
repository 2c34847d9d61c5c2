import net from 'node:net';

/** A URL a client on this machine can use for a listener: wildcard addresses are reached through loopback. */
export function listenerUrl(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return `http://127.0.0.1:${port}`;
  return net.isIPv6(host) ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}
