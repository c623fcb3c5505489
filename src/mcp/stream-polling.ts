import type { CallContext } from './source.js';

/**
 * SEP-1699 polling, the hub's own: a call still running after `afterMs` has its caller's POST
 * stream closed, and the client comes back for the rest with `Last-Event-ID` (the stream's priming
 * event told it when) on a GET that stays open until the answer. The POST's connection is freed
 * mid-call, and a downstream that cannot close its caller's stream itself (a stdio server, whose
 * transport has no stream) still gets a caller that resumes.
 *
 * Once per call (per round, for a call the hub runs in rounds to fulfil a downstream's
 * input_required for a 2025 client), and not at all once the source closed the stream itself (an
 * HTTP downstream that closed its own): closing a resumed stream again would race a client that
 * reconnects at once against an answer about to come. Only where the face offers `closeSSE` (2025 sessions of
 * 2025-11-25 clients and later). Returns the context to hand the source, and what stops the
 * timer when the call ends first; undefined when nothing is polled, so every other call (each
 * call, with polling off) allocates nothing here.
 */
export function pollStream(ctx: CallContext, afterMs: number | undefined): { ctx: CallContext; stop: () => void } | undefined {
  const close = ctx.closeSSE;
  if (!close || !afterMs) return undefined;
  const timer = setTimeout(close, afterMs);
  // A call's poll keeps no process alive on its own.
  timer.unref();
  const stop = () => clearTimeout(timer);
  return {
    ctx: {
      ...ctx,
      closeSSE: () => {
        stop();
        close();
      },
    },
    stop,
  };
}
