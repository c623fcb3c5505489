import type { CallContext, ProgressUpdate } from '../source.js';

/** Progress is forwarded in order and flushed before the result, so none arrives after it. */
export async function forwardProgress<T>(ctx: CallContext, run: (opts: { onprogress?: (p: ProgressUpdate) => void }) => Promise<T>): Promise<T> {
  const report = ctx.reportProgress;
  if (!report) return run({});
  let forwarded = Promise.resolve();
  const result = await run({
    onprogress: (p) => {
      const update = {
        progress: p.progress,
        ...(p.total === undefined ? {} : { total: p.total }),
        ...(p.message === undefined ? {} : { message: p.message }),
      };
      forwarded = forwarded.then(() => report(update)).catch(() => {});
    },
  });
  await forwarded;
  return result;
}
