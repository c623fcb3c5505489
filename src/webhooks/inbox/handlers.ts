import { envelopeOf, type EventEnvelope, type InboxEvent } from './types.js';

/**
 * Runs an event's effect. Called at least once per event (a crash after the effect and before the
 * row is marked done runs it again), so an effect keys itself on `event.id`. Throwing retries the
 * event with backoff; throwing p-retry's `AbortError` makes it dead at once (STYLE.md §7).
 */
export type EventHandler = (event: InboxEvent) => Promise<void>;

/** The default: nothing to do beyond marking it done; subscribers hear of it then. */
export const defaultHandler: EventHandler = async () => {};

/** Handlers keyed by integration; an integration without one gets the default. */
export class HandlerRegistry {
  private readonly byIntegration = new Map<string, EventHandler>();

  register(integration: string, handler: EventHandler): () => void {
    this.byIntegration.set(integration, handler);
    return () => {
      if (this.byIntegration.get(integration) === handler) this.byIntegration.delete(integration);
    };
  }

  for(integration: string): EventHandler {
    return this.byIntegration.get(integration) ?? defaultHandler;
  }
}

export type EventListener = (envelope: EventEnvelope, event: InboxEvent) => void;

/** How long a published event's id is remembered, so the same event is not told twice. */
const REMEMBER_MS = 30_000;

/**
 * Told of each event once it is done: the MCP layer listens here to send resource updates. Events
 * come from this process's worker and from a watch on events other processes finished (see
 * InboxService); an event published twice within REMEMBER_MS is told once. A listener's failure
 * is reported to `onError` and never reaches the worker or other listeners.
 */
export class EventFeed {
  private readonly listeners = new Set<EventListener>();
  /** Ids told recently, oldest first, with when. */
  private readonly told = new Map<string, number>();

  constructor(
    private readonly onError: (err: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether anyone listens (a watch for other processes' events is pointless otherwise). */
  get listened(): boolean {
    return this.listeners.size > 0;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * Notes the event as told here: false when it was already (by this process's worker, the watch
   * for other processes' events, or another replica's word that its subscribers were told).
   */
  claim(id: string): boolean {
    const now = this.now();
    for (const [told, at] of this.told) {
      if (now - at < REMEMBER_MS) break;
      this.told.delete(told);
    }
    if (this.told.has(id)) return false;
    this.told.set(id, now);
    return true;
  }

  publish(event: InboxEvent): void {
    if (this.listeners.size === 0 || !this.claim(event.id)) return;
    const envelope = envelopeOf(event);
    for (const l of this.listeners) {
      try {
        l(envelope, event);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
