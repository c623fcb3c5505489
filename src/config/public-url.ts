import type { HubConfig } from './schema.js';

/** The URL a listener on host:port is reached at; a wildcard bind is reached on loopback. */
export function urlFor(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

/** Where clients and browsers reach the hub: `server.publicUrl`, else the bind address. No trailing slash. */
export function publicUrlOf(server: HubConfig['server']): string {
  return (server.publicUrl ?? urlFor(server.host, server.port)).replace(/\/$/, '');
}
