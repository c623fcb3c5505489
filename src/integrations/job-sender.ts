import type { Logger } from 'pino';
import { describeError, HubError, isHubError } from '../errors.js';
import type { TokenManager } from '../oauth/token-manager.js';
import { outcomeOfThrown, type AttemptOutcome } from '../outbox/breaker.js';
import { outcomeOf, type SendOutcome } from '../outbox/classify.js';
import type { OpenJob } from '../outbox/types.js';
import { JobNotSent } from '../outbox/worker.js';
import type { ProviderClient, ProviderFetch, ProviderLimits } from '../providers/client.js';
import { oauthCredentials, type Credentials } from '../providers/credentials.js';
import type { Clock } from '../clock.js';
import type { CircuitBreakers } from '../outbox/breaker.js';
import type { Breakers } from '../outbox/redis/shapes.js';
import type { IntegrationDefinition, ToolHandler } from './definition.js';
import { type ConnectionBases, onBase } from './connection-base.js';
import { answerText, httpRequestOf } from './http-tool.js';
import { handlerOutcome, isWrite, keyedFetch } from './outbound.js';

export interface JobSenderOptions {
  definition: IntegrationDefinition;
  provider: ProviderClient;
  tokens: TokenManager;
  log: Logger;
  /** The app's key from config; absent, each job is sent with its connection's token. */
  credentials?: Credentials;
  limits?: Partial<ProviderLimits>;
  /** Each connection's API base; absent, apiBaseUrl is every job's. */
  bases?: ConnectionBases;
  clock: Clock;
  breakers: CircuitBreakers | Breakers;
}

/**
 * Sends an integration's queued writes (the outbox worker's send function), one attempt each: a
 * template's request or a handler's run, with the job's credentials, paced on its bucket, each
 * answer told to the integration's breaker.
 */
export class JobSender {
  private readonly name: string;

  constructor(private readonly o: JobSenderOptions) {
    this.name = o.definition.name;
  }

  /**
   * Sends one queued write: once, through the provider client
   * (which never retries a write: the outbox does), with the job id in the integration's
   * idempotency header. The worker asked the integration's breaker before it claimed the attempt
   * (src/integrations/wiring.ts); this reports the answer to it. `beforeSend` (the worker committing
   * `sending`) runs once the pacing token is granted; its refusal (JobNotSent: the job was cancelled
   * while it waited) is no failure of the provider's, so the breaker is not told.
   */
  async send(job: OpenJob, signal: AbortSignal, beforeSend?: () => Promise<void>): Promise<SendOutcome> {
    const d = this.o.definition;
    const tool = d.tools[job.tool];
    if (tool === undefined) throw new HubError('tool_not_found', `${d.title} has no tool ${job.tool} to send`);
    if (tool.handler) return this.runHandlerJob(job, tool.handler, signal, beforeSend);
    const r = httpRequestOf(tool, job.arguments, signal, d.bodyEncoding);
    const headers = new Headers(r.init.headers);
    // The job id, not the caller's key: a caller's key is unique per user, the provider's per account.
    if (d.idempotencyHeader) headers.set(d.idempotencyHeader, job.id);
    const fetch = this.jobFetch(job, signal, beforeSend);
    let res: Response;
    try {
      res = await fetch(r.target, { ...r.init, headers });
    } catch (err) {
      if (!signal.aborted && !(err instanceof JobNotSent)) this.tell(outcomeOfThrown(err));
      throw err;
    }
    this.tell({ kind: 'status', status: res.status });
    return outcomeOf(res, answerText(res.headers.get('content-type'), new Uint8Array(await res.arrayBuffer())), this.o.clock.now(), d.refusal);
  }

  /** Tells the breaker how an attempt went; a shared one's failure (Redis down) is logged, never the send's (the request went). */
  private tell(outcome: AttemptOutcome): void {
    const told = this.o.breakers.record(this.name, outcome);
    if (told instanceof Promise)
      told.catch((err: unknown) =>
        this.o.log.warn(
          { integration: this.name, error: err instanceof Error ? err.message : String(err) },
          'could not record an attempt on the shared circuit',
        ),
      );
  }

  /**
   * The provider fetch a queued job is sent with: its connection's credentials (or the app key),
   * paced on its bucket, never retrying a write itself (the outbox does), `beforeSend` committing
   * `sending` once the pacing token is granted.
   */
  private jobFetch(job: OpenJob, signal: AbortSignal, beforeSend: (() => Promise<void>) | undefined): ProviderFetch {
    const d = this.o.definition;
    const keyed = this.o.credentials;
    const bases = this.o.bases;
    // The connection's base as it is when the job is sent, while it is on the site the job was queued for (ConnectionBases.ofId).
    if (!keyed && bases)
      return onBase(
        () => bases.ofId(job.connectionId, job.siteDigest),
        (base) => this.bound(job, signal, beforeSend, base),
      );
    return this.bound(job, signal, beforeSend, d.apiBaseUrl);
  }

  private bound(job: OpenJob, signal: AbortSignal, beforeSend: (() => Promise<void>) | undefined, apiBaseUrl: string): ProviderFetch {
    const d = this.o.definition;
    const keyed = this.o.credentials;
    return this.o.provider.bind({
      label: d.title,
      apiBaseUrl,
      // Sent only while the base read for it is still the connection's (a relink may come while the job is paced).
      credentials:
        keyed ??
        (this.o.bases
          ? this.o.bases.tied(job.connectionId, apiBaseUrl, oauthCredentials(this.o.tokens, job.connectionId), job.siteDigest)
          : oauthCredentials(this.o.tokens, job.connectionId)),
      paceKey: `${this.name}:${keyed ? 'app' : job.connectionId}`,
      idempotent: false,
      refusal: d.refusal,
      ...(this.o.limits ? { limits: this.o.limits } : {}),
      ...(beforeSend ? { beforeSend } : {}),
      signal,
    });
  }

  /**
   * Runs a handler write in the worker, once: its fetch is the job's connection's (paced, never
   * retrying a write), each write keyed from the job id (keyedFetch), each answer and failure told
   * to the integration's breaker as a template's send is. Its result is the job's answer.
   */
  private async runHandlerJob(job: OpenJob, handler: ToolHandler, signal: AbortSignal, beforeSend?: () => Promise<void>): Promise<SendOutcome> {
    const d = this.o.definition;
    const bound = this.jobFetch(job, signal, beforeSend);
    let applied = 0;
    let last: Response | undefined;
    const reported: ProviderFetch = async (path, init) => {
      let res: Response;
      try {
        res = await bound(path, init);
      } catch (err) {
        if (!signal.aborted && !(err instanceof JobNotSent)) this.tell(outcomeOfThrown(err));
        throw err;
      }
      this.tell({ kind: 'status', status: res.status });
      last = res;
      if (res.ok && isWrite(init)) applied++;
      return res;
    };
    const fetch = d.idempotencyHeader ? keyedFetch(reported, d.idempotencyHeader, job.id) : reported;
    try {
      return handlerOutcome(await handler(job.arguments, { fetch, signal, log: this.o.log }));
    } catch (err) {
      // Cancelled while it waited for its first token: nothing was sent, the worker records nothing.
      if (signal.aborted || err instanceof JobNotSent) throw err;
      // Running it again repeats the writes it already made: safe only where they carry keys (or the tool is idempotent).
      const rerunSafe = applied === 0 || job.replaySafe;
      if (isHubError(err)) {
        if (rerunSafe || !err.spec.retryable) throw err;
        // Plain, without its cause: the worker then records it sent_unconfirmed, never runs it again.
        throw new Error(`${err.message}, after ${applied} of its writes were applied`);
      }
      // The handler gave up on a provider's 408, 429 or 5xx: the job is sent again later, as a template's would be.
      const status = last?.status ?? 0;
      if (rerunSafe && (status === 408 || status === 429 || status >= 500)) {
        // As a template's answer is read (outcomeOf): a spent window's reset is the wait too, not a backoff into it.
        const retryAfterMs = last === undefined ? undefined : outcomeOf(last, '', this.o.clock.now()).retryAfterMs;
        return { status, body: describeError(err), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
      }
      // Its own decision otherwise: failed at once. Without the title: the caller's answer adds it (answerOf).
      throw new HubError('source_failed', describeError(err), { cause: err });
    }
  }
}
