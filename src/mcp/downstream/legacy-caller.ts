import type { CallContext } from '../source.js';

/**
 * A 2025-era caller: its connection carries server→client requests (a 2025 session or stdio),
 * which a 2026-07-28 request never does.
 */
export function isLegacyCaller(ctx: CallContext): boolean {
  return ctx.request !== undefined;
}
