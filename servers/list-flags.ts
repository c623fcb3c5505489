import { z } from 'zod';
import { HubError } from '../src/errors.js';
import { progress } from './common.js';

/** How many rows a listing shows unless `--limit` says otherwise (the stores' own default). */
export const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 10_000;

const range = `use a whole number from 1 to ${MAX_LIST_LIMIT}`;
// Digits only, as --port takes them: Number() also reads "0x10" as 16, "1e3" as 1000 and " 5" as 5.
export const limitFlag = z
  .string()
  .regex(/^\d{1,6}$/, range)
  .transform(Number)
  .pipe(z.number().int(range).min(1, range).max(MAX_LIST_LIMIT, range));

/** A flag's value through its schema, or `invalid_params` naming the flag, the value and what it takes. */
export function flagValue<T>(schema: z.ZodType<T>, name: string, value: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new HubError('invalid_params', `--${name} ${value}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

/**
 * Said on stderr (stdout stays the listing, or its JSON) when a listing filled its limit: there
 * may be more rows, and an operator reading a backlog must not take the newest hundred for all.
 */
export function noteIfCut(shown: number, limit: number | undefined, what: string): void {
  const cap = limit ?? DEFAULT_LIST_LIMIT;
  if (shown >= cap) progress(`showing the newest ${cap} ${what}; there may be more: --limit N (up to ${MAX_LIST_LIMIT}) shows more`);
}
