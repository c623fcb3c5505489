import type { Client } from '@modelcontextprotocol/client';
import { rootsVersion } from '../roots-changes.js';

/** How long a call waits for the server to ask the new caller's roots after being told they changed. */
const ASK_WAIT_MS = 2_000;
/** After the ping: the ask, sent before the ping's answer, may still be on its way on another stream. */
const ASK_GRACE_MS = 25;

/**
 * What a connection last told its server of the caller's roots, kept right as its callers change.
 * A connection of one identity serves each of that identity's clients, whose roots differ; servers
 * keep the first `roots/list` answer for their session (server-everything asks once, then again
 * only on `notifications/roots/list_changed`), so a second client would be shown the first one's.
 * So a call from another client than the one whose roots the server last got is preceded by
 * `list_changed`, and the server's ask that follows (outside any call, on its own stream) is
 * related to that call and answered by its client before the call is sent.
 */
export class RootsSync<Call extends { caller: object | undefined }> {
  /** The client connection whose roots the server last got; null while it got none. */
  private shownTo: object | undefined | null = null;
  /** How many root changes that client had said when the server got its roots (roots-changes.ts). */
  private shownVersion = 0;
  /** The call whose caller's roots are being shown: the server's roots/list outside a call is its. */
  owner: Call | undefined;
  private asked: Promise<unknown> | undefined;

  /**
   * Whether a call of `caller` would meet other roots kept by the server. A caller of no connection
   * (a 2026-07-28 request) matches only "none": what one such caller answered is no other's.
   */
  stale(caller: object | undefined): boolean {
    if (this.shownTo === null) return false;
    // The same client, whose roots changed since (it sent notifications/roots/list_changed).
    return this.shownTo !== caller || rootsVersion(caller) !== this.shownVersion;
  }

  /** The server asked `call`'s caller its roots; `answer` is the caller's answer, resolved when sent. */
  track<T>(call: Call, answer: Promise<T>): Promise<T> {
    // Counted before the answer: a change said while it was on its way is not in it.
    const version = rootsVersion(call.caller);
    const sent = answer.then((a) => {
      this.shownTo = call.caller ?? {};
      this.shownVersion = version;
      return a;
    });
    if (call === this.owner) this.asked = sent.catch(() => {});
    return sent;
  }

  /** The server's ask while showing the roots of a caller that declared none: an empty list, not another client's. */
  none(call: Call): Promise<{ roots: [] }> {
    const answer = Promise.resolve({ roots: [] as [] });
    if (call === this.owner) this.asked = answer;
    this.shownTo = call.caller;
    this.shownVersion = rootsVersion(call.caller);
    return answer;
  }

  /** Tells the server the roots changed and waits until it asked `call`'s caller for them, if it does ask. */
  async show(client: Client, call: Call, signal: AbortSignal): Promise<void> {
    this.owner = call;
    this.asked = undefined;
    const version = rootsVersion(call.caller);
    try {
      await client.sendRootsListChanged();
      // A server that asks at once has asked by the time it answers a ping sent after the notification.
      await client.ping({ signal, timeout: ASK_WAIT_MS }).catch(() => {});
      await new Promise((r) => setTimeout(r, ASK_GRACE_MS));
      // Not asked: the server asks during calls, or not at all; the call shows it its caller's.
      if (this.asked) await Promise.race([this.asked, new Promise((r) => setTimeout(r, ASK_WAIT_MS).unref())]);
    } finally {
      this.owner = undefined;
      // The same client's change, told: a server that asks roots only during calls is not told it
      // again before each of them (it asks this client when a call needs them).
      if (this.shownTo === call.caller && this.shownVersion < version) this.shownVersion = version;
    }
  }
}
