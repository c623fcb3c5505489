/**
 * oidc-provider prints "Unsupported runtime" on every Node release before 22 when it is imported.
 * The hub supports Node 20 and the library works there (FACTS.md: its test suite and the hub's
 * OAuth tests pass on 20), so that one line would only alarm users of `switchboard serve`: it is
 * dropped while the library is imported, and every other warning passes through untouched.
 */
export const UNSUPPORTED_RUNTIME = 'oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.';
/** On a terminal the library colours the line (ESC [ … m around it). */
const COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

export async function importQuietly<T>(load: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === 'string' && args[0].replace(COLOUR, '') === UNSUPPORTED_RUNTIME) return;
    warn.apply(console, args);
  };
  try {
    return await load();
  } finally {
    console.warn = warn;
  }
}
