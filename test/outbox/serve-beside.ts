import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, eventually, type RunningHub } from '../helpers/hub.js';

/** A real `switchboard serve` (the built CLI) on an in-process hub's data dir, as a second process. */
export interface ServeBeside {
  /** Its MCP endpoint. */
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export async function serveBeside(a: RunningHub, config: Record<string, unknown>, name: string): Promise<ServeBeside> {
  const file = join(a.dataDir, `${name}.config.json`);
  writeFileSync(file, JSON.stringify(config));
  const b: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--config', file, '--data', a.dataDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  b.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  b.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const stop = async () => {
    if (b.exitCode !== null) return;
    const exited = new Promise<void>((r) => b.once('exit', () => r()));
    b.kill('SIGTERM');
    await exited;
  };
  const up = await eventually(() => (b.exitCode !== null ? 'exited' : /serving MCP at (http:\/\/\S+)/.test(output) ? 'up' : undefined), 30_000);
  if (up !== 'up') {
    await stop();
    throw new Error(`serve exited before serving:\n${output}`);
  }
  return { url: /serving MCP at (http:\/\/\S+)/.exec(output)![1]!, output: () => output, stop };
}
