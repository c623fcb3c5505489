import { connect } from 'node:net';
import type { HubConfig } from '../../src/config/schema.js';
import { type AgentConfig, runsAsync } from '../../src/definition/agents.js';
import { isLoopbackHost } from '../../src/http/security.js';

type Check = { ok: boolean; line: string };

/** How long a connection to an agent's host may take before doctor calls it unreachable. */
const CONNECT_MS = 5_000;

type Reach = { ok: true; ms: number } | { ok: false; why: string };

/**
 * Whether host:port takes a TCP connection within `ms`. Nothing is sent: a request would start
 * (and on a marketplace, bill) a task, and an agent's answer to a probe says little of a call.
 */
function reach(host: string, port: number, ms: number): Promise<Reach> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (r: Reach) => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(ms, () => done({ ok: false, why: `no connection within ${ms} ms` }));
    socket.once('connect', () => done({ ok: true, ms: Math.round(performance.now() - started) }));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({ ok: false, why: err.code === 'ENOTFOUND' ? 'the host name does not resolve' : (err.code ?? err.message) }),
    );
  });
}

function describeAgent(a: AgentConfig): string {
  const mode = a.protocol === 'upagents' ? a.mode : a.protocol === 'kore' ? (a.async ? 'async' : a.stream ? 'stream' : 'sync') : 'sync';
  return `${a.protocol} ${mode}`;
}

/** The host of a URL as isLoopbackHost takes it (IPv6 without brackets). */
const hostOf = (u: URL) => u.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * Each agent as a call would meet it, without calling it: the host its requests go to takes
 * connections, and an async agent's answers can come back (a public URL on loopback is one an
 * agent on another machine cannot post to: its tasks would run, and be billed, with their answers lost).
 */
export async function agentChecks(agents: HubConfig['agents'], publicUrl: string | undefined): Promise<Check[]> {
  const names = Object.keys(agents);
  if (names.length === 0) return [{ ok: true, line: 'agents: none configured' }];
  return Promise.all(
    names.map(async (name): Promise<Check> => {
      const a = agents[name]!;
      const at = `agents.${name}`;
      if (a.disabled) return { ok: true, line: `${at}: disabled` };
      const target = a.protocol === 'upagents' ? a.baseUrl : a.url;
      if (target.startsWith('/')) return { ok: true, line: `${at}: ${describeAgent(a)}, a path on this hub (${target.split('?')[0]})` };
      const url = new URL(target);
      const host = hostOf(url);
      if (runsAsync(a) && !isLoopbackHost(host)) {
        const back = publicUrl === undefined ? undefined : new URL(publicUrl);
        if (back === undefined || isLoopbackHost(hostOf(back)))
          return {
            ok: false,
            line: `${at}: runs async, and its answers come back to ${publicUrl ?? "the hub's loopback URL"}, which ${url.host} cannot reach from another machine; set server.publicUrl to the URL the agent's platform reaches the hub at`,
          };
      }
      const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
      const r = await reach(host, port, Math.min(CONNECT_MS, a.timeoutMs));
      return r.ok
        ? { ok: true, line: `${at}: ${describeAgent(a)}, ${url.origin} takes connections (${r.ms} ms)` }
        : { ok: false, line: `${at}: cannot connect to ${url.origin}: ${r.why}; its calls would fail${a.fallback ? ' over to its fallback' : ''}` };
    }),
  );
}
