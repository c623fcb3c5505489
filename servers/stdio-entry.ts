import { stdioCommand, type StdioHooks } from './commands/stdio.js';
import { fail } from './common.js';

/**
 * `switchboard stdio` as one module, the entry of the bundle dist/bundle/stdio.cjs (scripts/bundle-stdio.ts).
 * Failures are reported here, by the bundle's own error classes: the CLI's unbundled copies of
 * them would not recognise a bundled HubError.
 */
export function runStdio(argv: string[], hooks: StdioHooks = {}): Promise<void> {
  return stdioCommand(argv, hooks).catch(fail);
}
