import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/hub.js';

/**
 * The runner's options are refused before anything is installed or started, with the option
 * named; the full comparison itself runs in CI (.ci/run), where it takes minutes, not here.
 */

const RUNNER = join(ROOT, 'dist/scripts/conformance-proxy.js');

function run(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [RUNNER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.once('close', (code) => res({ code, stderr, stdout }));
  });
}

describe('conformance:proxy options', () => {
  it.each([
    [['--pairing', 'tcp-2025'], 'pairing'],
    [['--mode', 'lenient'], 'mode'],
    [['--requirements', '2024-11-05'], 'requirements'],
  ])('refuses %j naming the option', async (args, option) => {
    const r = await run(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('conformance:proxy:');
    expect(r.stderr).toContain(option);
    expect(r.stdout).toBe('');
  });
});
