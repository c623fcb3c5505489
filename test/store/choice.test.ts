import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { HubError } from '../../src/errors.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { redactedUrl, storeChoice } from '../../src/store/choice.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * Which engine a config names, without any PostgreSQL: the PostgreSQL side runs in
 * test/pg/hub-*.test.ts. A password in a bad URL is never repeated in the error.
 */
const PASSWORD = 's3cret-never-shown';
const config = (store: Record<string, unknown> = {}) => configSchema.parse({ store });

describe('storeChoice', () => {
  it('is SQLite without store.url or DATABASE_URL (an empty DATABASE_URL counts as unset)', () => {
    expect(storeChoice(config(), {})).toEqual({ kind: 'sqlite' });
    expect(storeChoice(config(), { DATABASE_URL: '' })).toEqual({ kind: 'sqlite' });
  });

  it('is PostgreSQL from DATABASE_URL, and store.url wins over it', () => {
    const env = { DATABASE_URL: 'postgresql://env@db:5432/a' };
    expect(storeChoice(config(), env)).toEqual({ kind: 'postgres', url: 'postgresql://env@db:5432/a', from: 'DATABASE_URL' });
    expect(storeChoice(config({ url: 'postgres://cfg@db/b' }), env)).toEqual({ kind: 'postgres', url: 'postgres://cfg@db/b', from: 'store.url' });
  });

  it('refuses a DATABASE_URL that is not PostgreSQL, naming the variable and not its value', () => {
    for (const bad of [`mysql://app:${PASSWORD}@db/app`, `postgres://app:${PASSWORD}@/app`, PASSWORD]) {
      const err = (() => {
        try {
          storeChoice(config(), { DATABASE_URL: bad });
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(HubError);
      expect(err).toMatchObject({ code: 'config_invalid', message: expect.stringMatching(/^DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL/) });
      expect(JSON.stringify({ message: (err as HubError).message, details: (err as HubError).details })).not.toContain(PASSWORD);
    }
  });

  it('store.url is checked when the config loads, and the error does not repeat the password', () => {
    const text = JSON.stringify({ store: { url: `mysql://app:${PASSWORD}@db/app` } });
    expect(() => parseConfigText(text, 'x.json', {})).toThrow(/x\.json: store\.url: expected a postgres:\/\/ or postgresql:\/\/ URL/);
    try {
      parseConfigText(text, 'x.json', {});
    } catch (err) {
      expect(JSON.stringify({ message: (err as HubError).message, details: (err as HubError).details })).not.toContain(PASSWORD);
    }
  });

  it('redactedUrl replaces the password only', () => {
    expect(redactedUrl(`postgres://app:${PASSWORD}@db:5432/app?sslmode=require`)).toBe('postgres://app:***@db:5432/app?sslmode=require');
    expect(redactedUrl('postgres://app@db/app')).toBe('postgres://app@db/app');
  });
});

describe('Hub.open and the constructor', () => {
  it('Hub.open builds a SQLite hub when nothing names PostgreSQL', async () => {
    const hub = await Hub.open({ config: config(), dataDir: ':memory:', log: silentLogger(), env: {} });
    try {
      expect(hub.store.kind).toBe('sqlite');
      expect(await hub.store.health()).toEqual({ ok: true, kind: 'sqlite' });
    } finally {
      await hub.stop();
    }
  });

  it('the constructor refuses a config naming PostgreSQL (its pool opens asynchronously: Hub.open)', () => {
    expect(() => new Hub({ config: config({ url: 'postgres://app@db/app' }), dataDir: ':memory:', log: silentLogger() })).toThrow(
      expect.objectContaining({ code: 'internal', message: expect.stringContaining('Hub.open()') }),
    );
  });
});

describe('/readyz on SQLite', () => {
  let h: RunningHub;
  beforeAll(async () => {
    h = await startHub();
  });
  afterAll(() => h.stop());

  it('names the store to a loopback caller; a closed store makes it 503 degraded with the reason', async () => {
    const origin = new URL(h.url).origin;
    const ready = await fetch(`${origin}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', store: { kind: 'sqlite', ok: true } });
    // The file closed under the hub, as a store that stops answering: the replica leaves the balancer.
    h.hub.db.close();
    const down = await fetch(`${origin}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'degraded', store: { kind: 'sqlite', ok: false, error: expect.stringContaining('not open') } });
  });
});
