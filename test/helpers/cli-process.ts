import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CLI } from './hub.js';

/** A CLI process whose output is collected as it arrives. */
export interface RunningCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/**
 * Starts `switchboard <args>` in `cwd` (a directory without switchboard.config.json runs on the
 * embedded defaults), with Node's own flags (`--import` of a test clock) and more environment.
 */
export function startCli(args: string[], cwd: string, opts: { nodeFlags?: string[]; env?: Record<string, string> } = {}): RunningCli {
  const env = { ...process.env, NO_COLOR: '1', ...opts.env };
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = once(child, 'close').then(([code]) => code as number | null);
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Ends a CLI process still running (SIGTERM) and waits for it to close. */
export async function stopCli(r: RunningCli | undefined): Promise<void> {
  if (!r || r.child.exitCode !== null || r.child.signalCode !== null) return;
  r.child.kill('SIGTERM');
  await r.exit;
}
