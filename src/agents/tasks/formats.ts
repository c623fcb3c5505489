import { z } from 'zod';
import { koreAnswer } from '../kore.js';

/** A callback's body, whatever its protocol, as far as its task needs it. */
export interface CallbackBody {
  /** The platform's id of the task: the task the URL is for must be bound to it. */
  remoteId: string;
  /** `running` changes nothing (a progress report); the others finish the task. */
  status: 'completed' | 'failed' | 'cancelled' | 'running';
  output?: unknown;
  error?: string;
  /** The agent's own error type (`tool_unavailable`, …) of a failed task, for the metrics. */
  errorType?: string;
}

/** A body of the protocol the hub will not apply (a status it does not know): refused with 400 `bad_body`, the task unchanged. */
export interface CallbackRefusal {
  refused: string;
}

export interface CallbackFormat {
  /**
   * Whether the body must carry a valid `X-Webhook-Signature` (seed 000's scheme). Unsigned, the
   * URL is the only credential: 128 random bits naming one task, as seed 003's callback URL is.
   */
  signed: boolean;
  /** undefined when the body is no callback of this protocol at all. */
  parse(text: string): CallbackBody | CallbackRefusal | undefined;
}

function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Seed 000's webhook body: `{ task_id, status, output | error }`; anything beyond is ignored. */
const upagentsSchema = z.looseObject({
  task_id: z.string().min(1).max(256),
  status: z.string().min(1).max(64),
  output: z.unknown().optional(),
  error: z.looseObject({ type: z.string().optional(), message: z.string().optional() }).optional(),
});

/**
 * The statuses a upagents callback may carry. Seed 000's webhook handler reads `completed` and
 * `failed`; its sync answer reports `error`, its stream ends with `complete`, its submission
 * answers `queued` (read as `pending` and `running` too, upagents.ts). A status outside these is
 * refused rather than taken for progress: acknowledged, the platform would never send the answer
 * again and the task would wait for its expiry.
 */
const UPAGENTS_STATUSES: Record<string, CallbackBody['status']> = {
  completed: 'completed',
  complete: 'completed',
  succeeded: 'completed',
  success: 'completed',
  failed: 'failed',
  error: 'failed',
  cancelled: 'cancelled',
  canceled: 'cancelled',
  queued: 'running',
  pending: 'running',
  running: 'running',
};

export const UPAGENTS_CALLBACK: CallbackFormat = {
  signed: true,
  parse(text) {
    const r = upagentsSchema.safeParse(json(text));
    if (!r.success) return undefined;
    const b = r.data;
    const status = Object.hasOwn(UPAGENTS_STATUSES, b.status.toLowerCase()) ? UPAGENTS_STATUSES[b.status.toLowerCase()] : undefined;
    const base = { remoteId: b.task_id };
    if (status === undefined)
      return { refused: `the callback's status ${JSON.stringify(b.status)} is none the hub knows (${Object.keys(UPAGENTS_STATUSES).join(', ')})` };
    if (status === 'completed') return { ...base, status, output: b.output ?? null };
    if (status === 'failed')
      return {
        ...base,
        status,
        error: `${b.error?.type ?? 'error'}: ${b.error?.message ?? 'the agent reported an error'}`,
        errorType: b.error?.type ?? 'error',
      };
    if (status === 'cancelled') return { ...base, status, error: 'the agent platform cancelled the task' };
    return { ...base, status };
  },
};

const koreIdSchema = z.looseObject({ messageId: z.string().min(1).max(256) });

/** Seed 003: the callback carries a whole Kore response, read as a sync answer is. */
export function koreCallback(name: string, o: { structured: boolean; signed: boolean }): CallbackFormat {
  return {
    signed: o.signed,
    parse(text) {
      const raw = json(text);
      const id = koreIdSchema.safeParse(raw);
      if (!id.success) return undefined;
      const base = { remoteId: id.data.messageId };
      try {
        const a = koreAnswer(raw, name, { structured: o.structured, async: true });
        if (a.kind === 'output') return { ...base, status: 'completed', output: a.output };
        if (a.kind === 'agent_error') return { ...base, status: 'failed', error: `${a.type}: ${a.message}`, errorType: a.type };
        return { ...base, status: 'running' };
      } catch {
        return undefined;
      }
    },
  };
}
