import { isFinalTask, type AgentTask } from './types.js';

type Listener = () => void;

/**
 * Tells a waiting call that its task may have changed: the inbox worker of this process says so
 * the moment it finishes one. A task finished by another process on the store (a `serve` taking
 * callbacks beside a `stdio` hub) is found by the waiter's own reads, every `pollMs`.
 */
export class TaskEvents {
  private readonly byTask = new Map<string, Set<Listener>>();

  publish(taskId: string): void {
    for (const l of [...(this.byTask.get(taskId) ?? [])]) l();
  }

  /** Listens for one task's changes (MCP Tasks status notifications); returns the unsubscribe. */
  on(taskId: string, l: Listener): () => void {
    const set = this.byTask.get(taskId) ?? new Set<Listener>();
    this.byTask.set(taskId, set);
    set.add(l);
    return () => {
      set.delete(l);
      if (set.size === 0 && this.byTask.get(taskId) === set) this.byTask.delete(taskId);
    };
  }

  /**
   * The task once final; undefined after `ms`, or at once when `signal` aborts. Listens before it
   * reads, so a task finished between the read and the wait is not missed. `tick` runs on every
   * poll (the caller's progress notification).
   */
  waitFor(
    taskId: string,
    read: () => Promise<AgentTask | undefined>,
    o: { ms: number; pollMs: number; signal: AbortSignal; tick?: () => void },
  ): Promise<AgentTask | undefined> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (t: AgentTask | undefined, err?: unknown) => {
        if (settled) return;
        settled = true;
        off();
        clearTimeout(deadline);
        clearInterval(poll);
        o.signal.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve(t);
      };
      const look = () =>
        void read().then(
          (t) => {
            if (t === undefined || isFinalTask(t.state)) finish(t);
          },
          (err: unknown) => finish(undefined, err),
        );
      const onAbort = () => finish(undefined);
      const off = this.on(taskId, look);
      const deadline = setTimeout(() => finish(undefined), o.ms);
      const poll = setInterval(() => {
        o.tick?.();
        look();
      }, o.pollMs);
      if (o.signal.aborted) return onAbort();
      o.signal.addEventListener('abort', onAbort, { once: true });
      look();
    });
  }
}
