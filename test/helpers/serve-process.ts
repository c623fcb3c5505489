import { type ChildProcess, spawn } from 'node:child_process';
import { CLI, eventually } from './hub.js';

export interface Serving {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output: () => string;
  exited: Promise<void>;
}

/** `switchboard serve` with `config` and `data` on `port`, as a process of its own; resolves once it serves. */
export async function serveProcess(config: string, data: string, port: number): Promise<Serving> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config, '--data', data, '--port', String(port)], {
    cwd: data,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const up = await eventually(() => (child.exitCode !== null ? 'exited' : /serving MCP at/.test(out) ? 'up' : undefined), 30_000);
  if (up !== 'up') throw new Error(`serve exited before serving:\n${out}`);
  return { child, output: () => out, exited };
}
