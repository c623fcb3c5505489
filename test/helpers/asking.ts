import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './hub.js';

/** The built downstream that asks its caller for input mid-call (test/fixtures/asking-server.ts). */
export const ASKING = join(ROOT, 'dist/test/fixtures/asking-server.js');

/** Starts the asking server in an HTTP mode (`--v1-http` or `--v2-http`); resolves once it listens. */
export async function spawnAskingHttp(mode: '--v1-http' | '--v2-http', env: Record<string, string> = {}): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [ASKING, mode], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const port = await new Promise<number>((res, rej) => {
    createInterface({ input: child.stdout! }).once('line', (l) => res((JSON.parse(l) as { port: number }).port));
    child.once('exit', (code) => rej(new Error(`asking server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/mcp`, child };
}
