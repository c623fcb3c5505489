import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfigValue } from '../../src/config/load.js';
import type { HubConfig } from '../../src/config/schema.js';
import { hubErrorOf } from '../helpers/errors.js';
import { tmpDir } from '../helpers/hub.js';

const FILE = '/etc/sb/switchboard.config.json';
const OAUTH = { authorizeUrl: 'https://acme.test/oauth/authorize', tokenUrl: 'https://acme.test/oauth/token', clientId: 'id', clientSecret: 'client-secret' };
const TOOLS = { list_tickets: { description: 'Lists.', method: 'GET', path: '/tickets', readOnly: true } };
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** ARCHITECTURE.md's custom integration, with every block. */
function acme(over: Record<string, unknown> = {}) {
  return {
    type: 'custom',
    oauth: OAUTH,
    apiBaseUrl: 'https://api.acme.test',
    rateLimit: { perConnection: { perSecond: 5, burst: 10 }, perApp: { perSecond: 0.5 } },
    idempotencyHeader: 'Idempotency-Key',
    webhooks: {
      scheme: 'standard-webhooks',
      secrets: [SECRET],
      eventIdFrom: 'body:data.event_id',
      typeFrom: 'body:type',
      accountFrom: 'body:account_id',
      maxBodyBytes: 1048576,
    },
    tools: TOOLS,
    poll: {
      events: { path: '/events', cursorParam: 'after', cursorFrom: 'next_cursor', itemsAt: 'events', idAt: 'id', typeFrom: 'type', intervalSeconds: 60 },
    },
    ...over,
  };
}

function parse(raw: unknown, warn: (m: string) => void = () => {}): HubConfig {
  return parseConfigValue(raw, FILE, warn);
}

function messageOf(raw: unknown): string {
  const err = hubErrorOf(() => parse(raw));
  expect(err.code).toBe('config_invalid');
  return err.message;
}

describe('integration blocks in config', () => {
  it('parse to their typed shape, selectors and paths parsed once', () => {
    const c = parse({ integrations: { acme: acme() } });
    const a = c.integrations['acme'];
    if (a?.type !== 'custom') throw new Error('expected a custom integration');
    expect({ rateLimit: a.rateLimit, idempotencyHeader: a.idempotencyHeader, webhooks: a.webhooks, poll: a.poll }).toEqual({
      rateLimit: { perConnection: { perSecond: 5, burst: 10 }, perApp: { perSecond: 0.5, burst: 1 } },
      idempotencyHeader: 'Idempotency-Key',
      webhooks: {
        scheme: 'standard-webhooks',
        secrets: [SECRET],
        idFrom: { in: 'header', name: 'webhook-id' },
        eventIdFrom: { in: 'body', path: ['data', 'event_id'] },
        typeFrom: { in: 'body', path: ['type'] },
        accountFrom: { in: 'body', path: ['account_id'] },
        maxBodyBytes: 1048576,
        toleranceSeconds: 300,
      },
      poll: {
        events: {
          path: '/events',
          cursorParam: 'after',
          cursorFrom: ['next_cursor'],
          itemsAt: ['events'],
          idAt: ['id'],
          typeFrom: ['type'],
          intervalSeconds: 60,
        },
      },
    });
  });

  it('fill each scheme’s delivery id, and give no tolerance to a scheme that signs no timestamp', () => {
    const c = parse({
      integrations: {
        gh: acme({
          webhooks: { scheme: 'github', secrets: ['s3cret'], accountFrom: 'query:acct' },
          rateLimit: undefined,
          poll: undefined,
          idempotencyHeader: undefined,
        }),
      },
    });
    const gh = c.integrations['gh'];
    if (gh?.type !== 'custom') throw new Error('expected a custom integration');
    expect(gh.webhooks).toEqual({
      scheme: 'github',
      secrets: ['s3cret'],
      idFrom: { in: 'header', name: 'x-github-delivery' },
      typeFrom: { in: 'header', name: 'x-github-event' },
      accountFrom: { in: 'query', name: 'acct' },
      maxBodyBytes: 1048576,
    });
    expect(gh.rateLimit).toBeUndefined();
    expect(gh.poll).toBeUndefined();
  });

  it.each([
    ['webhooks', { webhooks: { scheme: 'github', secrets: ['s'], secret: 'x' } }, 'unknown key integrations.acme.webhooks.secret'],
    [
      'poll feed',
      { poll: { events: { path: '/e', cursorParam: 'after', cursorFrom: 'c', idAt: 'id', interval: 5 } } },
      'unknown key integrations.acme.poll.events.interval',
    ],
    ['rateLimit', { rateLimit: { perConection: { perSecond: 1 } } }, 'unknown key integrations.acme.rateLimit.perConection'],
    ['rateLimit bucket', { rateLimit: { perApp: { perSecond: 1, burts: 2 } } }, 'unknown key integrations.acme.rateLimit.perApp.burts'],
  ])('name a typo inside %s with its key path and the file', (_block, over, expected) => {
    expect(messageOf({ integrations: { acme: acme(over) } })).toBe(`${FILE}: ${expected}`);
  });

  it.each([
    [
      { webhooks: { scheme: 'svix', secrets: ['s'] } },
      'integrations.acme.webhooks.scheme: Invalid option: expected one of "standard-webhooks"|"stripe"|"github"|"slack"|"shopify"|"jira"|"upagents"',
    ],
    [
      { webhooks: { scheme: 'github', secrets: ['s'], idFrom: 'webhook-id' } },
      'integrations.acme.webhooks.idFrom: use header:NAME, body:dotted.path or query:NAME',
    ],
    [
      { webhooks: { scheme: 'github', secrets: ['s'], idFrom: 'cookie:x' } },
      'integrations.acme.webhooks.idFrom: "cookie" is not a place to read from (use header:NAME, body:dotted.path or query:NAME)',
    ],
    [
      { webhooks: { scheme: 'github', secrets: ['s'], typeFrom: 'body:data..type' } },
      'integrations.acme.webhooks.typeFrom: a dotted path has no empty segments',
    ],
    [
      { webhooks: { scheme: 'github', secrets: ['s'], typeFrom: 'body:__proto__.x' } },
      'integrations.acme.webhooks.typeFrom: "__proto__" is not allowed in a path',
    ],
    [{ webhooks: { scheme: 'github', secrets: ['s'], idFrom: 'header:x id' } }, 'integrations.acme.webhooks.idFrom: "x id" is not a header name'],
    [
      { webhooks: { scheme: 'hmac-sha256', secrets: ['s'] } },
      'integrations.acme.webhooks.idFrom: scheme upagents has no standard delivery id: say where it is (header:NAME, body:path or query:NAME)',
    ],
    [
      { webhooks: { scheme: 'github', secrets: ['s'], toleranceSeconds: 60 } },
      'integrations.acme.webhooks.toleranceSeconds: scheme github signs no timestamp, so no tolerance applies',
    ],
    [{ webhooks: { scheme: 'github', secrets: [] } }, 'integrations.acme.webhooks.secrets: Too small: expected array to have >=1 items'],
    [{ webhooks: { scheme: 'github', secrets: [''] } }, 'integrations.acme.webhooks.secrets.0: a secret is empty (is its ${VARIABLE} set?)'],
    [{ rateLimit: {} }, 'integrations.acme.rateLimit: give perConnection, perApp or both'],
    [{ rateLimit: { perApp: { perSecond: 0 } } }, 'integrations.acme.rateLimit.perApp.perSecond: Too small: expected number to be >0'],
    [{ idempotencyHeader: 'Idempotency Key' }, 'integrations.acme.idempotencyHeader: not a header name'],
    [
      { poll: { 'bad feed': { path: '/e', cursorParam: 'a', cursorFrom: 'c', idAt: 'id' } } },
      'integrations.acme.poll.bad feed: use 1–48 characters from A-Z a-z 0-9 _ -',
    ],
    [
      { poll: { events: { path: '/e', cursorParam: 'a', cursorFrom: 'c', idAt: 'id', intervalSeconds: 1 } } },
      'integrations.acme.poll.events.intervalSeconds: Too small: expected number to be >=10',
    ],
  ])('refuse %j naming the path', (over, expected) => {
    expect(messageOf({ integrations: { acme: acme(over) } })).toBe(`${FILE}: ${expected}`);
  });

  it('check a secret’s form for its scheme without printing the secret', () => {
    const apiKey = 'sk_live_51HxYzNotAWebhookSecret';
    const message = messageOf({
      integrations: {
        pay: acme({ webhooks: { scheme: 'stripe', secrets: ['whsec_ok', apiKey] } }),
        sw: acme({ webhooks: { scheme: 'standard-webhooks', secrets: ['whsec_not base64!'] } }),
      },
    });
    expect(message).toBe(
      `${FILE}: integrations.pay.webhooks.secrets.1: a Stripe endpoint secret starts with whsec_ (an API key does not verify webhooks); ` +
        'integrations.sw.webhooks.secrets.0: a standard-webhooks secret is base64, after an optional whsec_ prefix',
    );
    expect(message).not.toContain(apiKey);
    expect(message).not.toContain('not base64!');
  });
});

describe('a built-in integration’s webhooks block', () => {
  it('takes secrets and limits, and refuses what the definition owns', () => {
    const c = parse({ integrations: { sandbox: { webhooks: { secrets: ['one', 'two'], maxBodyBytes: 2048 } } } });
    expect(c.integrations['sandbox']).toEqual({ disabled: false, webhooks: { secrets: ['one', 'two'], maxBodyBytes: 2048 } });
    expect(messageOf({ integrations: { sandbox: { webhooks: { secrets: ['one'], scheme: 'github' } } } })).toBe(
      `${FILE}: unknown key integrations.sandbox.webhooks.scheme`,
    );
  });

  it('maps the deprecated webhookSecrets into webhooks.secrets and warns once per load', () => {
    const dir = tmpDir();
    try {
      const file = join(dir.path, 'sb.json');
      writeFileSync(file, JSON.stringify({ integrations: { sandbox: { webhookSecrets: ['${HOOK_SECRET}'], webhooks: { maxBodyBytes: 4096 } } } }));
      const warnings: string[] = [];
      const loaded = loadConfig({ file, env: { HOOK_SECRET: 'hunter2' }, warn: (m) => warnings.push(m) });
      expect(loaded.config.integrations['sandbox']).toEqual({ disabled: false, webhooks: { secrets: ['hunter2'], maxBodyBytes: 4096 } });
      expect(warnings).toEqual([`${file}: integrations.sandbox.webhookSecrets is deprecated: write integrations.sandbox.webhooks.secrets`]);
    } finally {
      dir.remove();
    }
  });

  it('warns when webhooks and poll are both declared with nothing to join them on (no eventIdFrom), and only then', () => {
    const warnings: string[] = [];
    const { eventIdFrom: _dropped, ...webhooks } = acme().webhooks;
    parse({ integrations: { acme: acme({ webhooks }), joined: acme(), hooksOnly: acme({ webhooks, poll: undefined }) } }, (m) => warnings.push(m));
    expect(warnings).toEqual([
      `${FILE}: integrations.acme has webhooks and poll but no webhooks.eventIdFrom: a change that arrives both ways is stored twice; set it to where a delivery carries the id the poll reads at idAt (e.g. "body:id")`,
    ]);
  });

  it('says nothing when only the new spelling is used', () => {
    const warnings: string[] = [];
    parse({ integrations: { sandbox: { webhooks: { secrets: ['s'] } } } }, (m) => warnings.push(m));
    expect(warnings).toEqual([]);
  });

  it('refuses both spellings at once', () => {
    expect(messageOf({ integrations: { sandbox: { webhookSecrets: ['a'], webhooks: { secrets: ['b'] } } } })).toBe(
      `${FILE}: integrations.sandbox.webhookSecrets: give webhooks.secrets only (webhookSecrets is its deprecated spelling)`,
    );
  });
});
