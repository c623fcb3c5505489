import { spawn } from 'node:child_process';

/**
 * Runs a fixture script to its end, collecting its stdout lines; with `kill`, SIGKILLs it once
 * that many lines start with `kill.prefix` (a crash in the middle of its work).
 */
export function runFixture(
  script: string,
  args: readonly string[],
  kill?: { prefix: string; after: number },
): Promise<{ lines: string[]; signal: NodeJS.Signals | null; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    let rest = '';
    let seen = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        if (kill && l.startsWith(kill.prefix)) seen++;
      }
      if (kill && seen >= kill.after && child.exitCode === null) child.kill('SIGKILL');
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ lines, signal, code }));
  });
}
