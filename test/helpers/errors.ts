import { HubError } from '../../src/errors.js';

/** Runs `fn`, expecting a HubError, and returns it so the test can inspect code and message. */
export function hubErrorOf(fn: () => unknown): HubError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HubError) return err;
    throw err;
  }
  throw new Error('expected a HubError, but nothing was thrown');
}

/** Awaits `p`, expecting it to reject with a HubError, and returns that error. */
export async function hubRejectionOf(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HubError) return err;
    throw err;
  }
  throw new Error('expected a HubError, but the promise resolved');
}
