import { z } from 'zod';
import { isPlainRecord, isRecord } from '../../is-record.js';

export const requestId = z.union([z.string(), z.number().int()]);
export const progressToken = z.union([z.string(), z.number()]).optional();

/** `progressToken` checked by hand: what it accepts, the schema accepts. */
export function isProgressToken(v: unknown): boolean {
  return v === undefined || typeof v === 'string' || Number.isFinite(v);
}

/**
 * The one request shape served directly: a single `tools/call` that is not task-augmented and
 * carries no multi-round-trip material. Anything else (batches, tasks, retries, unknown shapes)
 * goes the SDK's way, which also answers its errors.
 */
export const callSchema = z.object({
  jsonrpc: z.literal('2.0'),
  id: requestId,
  method: z.literal('tools/call'),
  params: z.looseObject({
    name: z.string(),
    arguments: z.record(z.string(), z.unknown()).optional(),
    _meta: z.looseObject({ progressToken }).optional(),
    task: z.undefined().optional(),
    requestState: z.undefined().optional(),
    inputResponses: z.undefined().optional(),
  }),
});

export type DirectCall = z.infer<typeof callSchema>;

/**
 * `callSchema` checked by hand for the shape clients send: a call it returns, the schema accepts
 * (with the same values); what it refuses goes to the schema. Its zod parse on every call was
 * ~1.5 % of the hub's CPU per agent call.
 */
function byHand(body: unknown): DirectCall | undefined {
  if (!isRecord(body) || body['jsonrpc'] !== '2.0' || body['method'] !== 'tools/call') return undefined;
  const id = body['id'];
  const params = body['params'];
  if ((typeof id !== 'string' && !Number.isSafeInteger(id)) || !isPlainRecord(params) || typeof params['name'] !== 'string') return undefined;
  if (params['arguments'] !== undefined && !isPlainRecord(params['arguments'])) return undefined;
  if (params['task'] !== undefined || params['requestState'] !== undefined || params['inputResponses'] !== undefined) return undefined;
  const meta = params['_meta'];
  if (meta !== undefined) {
    if (!isPlainRecord(meta)) return undefined;
    if (!isProgressToken(meta['progressToken'])) return undefined;
  }
  return { jsonrpc: '2.0', id: id as string | number, method: 'tools/call', params: params as DirectCall['params'] };
}

/** The call, when `body` is a direct call's shape. */
export function directCallOf(body: unknown): DirectCall | undefined {
  return byHand(body) ?? callSchema.safeParse(body).data;
}
