import { createHash } from 'node:crypto';
import type { RedisHandle } from './client.js';

/**
 * A Lua script run by its SHA1 (`EVALSHA`: the text crosses the wire once per server), sent
 * whole (`EVAL`) when the server answers NOSCRIPT: after a restart, a failover to a replica that
 * never saw it, or a `SCRIPT FLUSH`. `EVAL` caches it again for the next call.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    private readonly h: RedisHandle,
    private readonly source: string,
    private readonly name: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      try {
        return await this.h.redis.evalsha(this.sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return await this.h.redis.eval(this.source, keys.length, ...keys, ...args);
      }
    } catch (err) {
      throw this.h.failure(err, `running the ${this.name} script`);
    }
  }
}
