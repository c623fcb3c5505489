import { type ChildProcess, spawn } from 'node:child_process';
import { CLI, eventually } from './hub.js';

export interface Serving {
  child: ChildProcess;
  /** Where it serves MCP, as it printed it, and its port (the OS's pick when 0 was asked). */
  url: string;
  port: number;
  /** Everything it printed so far, stdout and stderr. */
  output: () => string;
  exited: Promise<void>;
}

/** `switchboard serve` with `config` and `data` on `port` (0: the OS picks), as a process of its own; resolves once it serves. */
export async function serveProcess(config: string, data: string, port: number): Promise<Serving> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config, '--data', data, '--port', String(port)], {
    cwd: data,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const started = await eventually(() => {
    if (child.exitCode !== null || child.signalCode !== null) return { url: undefined };
    const url = /serving MCP at (\S+)/.exec(out)?.[1];
    return url === undefined ? undefined : { url };
  }, 30_000);
  if (started.url === undefined) throw new Error(`serve exited before serving:\n${out}`);
  return { child, url: started.url, port: Number(new URL(started.url).port), output: () => out, exited };
}
