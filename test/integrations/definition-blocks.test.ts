import { describe, expect, expectTypeOf, it } from 'vitest';
import { sandbox } from '../../integrations/sandbox/index.js';
import { parseConfigValue } from '../../src/config/load.js';
import type { CustomIntegrationConfig } from '../../src/config/schema.js';
import type { PollConfig } from '../../src/definition/poll.js';
import type { RateLimitConfig } from '../../src/definition/rate-limit.js';
import { parseSelector } from '../../src/definition/selector.js';
import { applyWebhookSettings, webhookFormatSchema, type WebhookFormat, type WebhooksConfig } from '../../src/definition/webhooks.js';
import { defineIntegration, definitionFromConfig, type IntegrationDefinition, type IntegrationInput } from '../../src/integrations/definition.js';
import { rejectionOf as refusal } from '../helpers/definitions.js';

const OAUTH = { authorizeUrl: 'https://acme.test/oauth/authorize', tokenUrl: 'https://acme.test/oauth/token' };
const BASE: IntegrationInput = { name: 'acme', title: 'Acme', oauth: OAUTH, apiBaseUrl: 'https://api.acme.test', tools: {} };

const BLOCKS = {
  rateLimit: { perConnection: { perSecond: 5, burst: 10 } },
  idempotencyHeader: 'Idempotency-Key',
  poll: { events: { path: '/events', cursorParam: 'after', cursorFrom: 'next_cursor', itemsAt: 'events', idAt: 'id', typeFrom: 'type' } },
};
const FORMAT = { scheme: 'standard-webhooks', eventIdFrom: 'body:data.event_id', accountFrom: 'body:account_id' } as const;

const rejectionOf = (input: Record<string, unknown>): string => refusal(BASE, input);

describe('a built-in and a custom integration share the block schemas', () => {
  it('parse the same blocks to the same typed values', () => {
    const builtin = defineIntegration({ ...BASE, ...BLOCKS, webhooks: FORMAT });
    const config = parseConfigValue(
      {
        integrations: {
          acme: {
            type: 'custom',
            oauth: { ...OAUTH, clientId: 'id', clientSecret: 's' },
            apiBaseUrl: BASE.apiBaseUrl,
            tools: {},
            ...BLOCKS,
            webhooks: { ...FORMAT, secrets: ['whsec_c2VjcmV0'] },
          },
        },
      },
      'sb.json',
    );
    const custom = config.integrations['acme'];
    if (custom?.type !== 'custom') throw new Error('expected a custom integration');
    const expected = {
      rateLimit: { perConnection: { perSecond: 5, burst: 10 } },
      idempotencyHeader: 'Idempotency-Key',
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
    };
    const format = {
      scheme: 'standard-webhooks',
      idFrom: { in: 'header', name: 'webhook-id' },
      eventIdFrom: { in: 'body', path: ['data', 'event_id'] },
      typeFrom: { in: 'body', path: ['type'] },
      accountFrom: { in: 'body', path: ['account_id'] },
      maxBodyBytes: 1048576,
      toleranceSeconds: 300,
    };
    expect({ rateLimit: builtin.rateLimit, idempotencyHeader: builtin.idempotencyHeader, poll: builtin.poll, webhooks: builtin.webhooks }).toEqual({
      ...expected,
      webhooks: format,
    });
    expect({ rateLimit: custom.rateLimit, idempotencyHeader: custom.idempotencyHeader, poll: custom.poll, webhooks: custom.webhooks }).toEqual({
      ...expected,
      webhooks: { ...format, secrets: ['whsec_c2VjcmV0'] },
    });
  });

  it('a custom entry becomes a definition with the same blocks, its webhook secrets kept beside it', () => {
    const secret = 'whsec_c2VjcmV0LWZvci1hY21l';
    const config = parseConfigValue(
      {
        integrations: {
          acme: {
            type: 'custom',
            title: 'Acme',
            oauth: { ...OAUTH, clientId: 'id', clientSecret: 'client-secret' },
            apiBaseUrl: BASE.apiBaseUrl,
            tools: {},
            ...BLOCKS,
            webhooks: { ...FORMAT, secrets: [secret] },
          },
        },
      },
      'sb.json',
    );
    const entry = config.integrations['acme'];
    if (entry?.type !== 'custom') throw new Error('expected a custom integration');
    const { definition, webhooks } = definitionFromConfig('acme', entry);
    expect(definition).toEqual(defineIntegration({ ...BASE, ...BLOCKS, webhooks: FORMAT }));
    expect(webhooks).toEqual({ ...definition.webhooks, secrets: [secret] });
    expect(JSON.stringify(definition)).not.toContain(secret);
    expect(JSON.stringify(definition)).not.toContain('client-secret');
  });

  it('have one type, inferred from the schemas in src/definition/', () => {
    expectTypeOf<IntegrationDefinition['rateLimit']>().toEqualTypeOf<RateLimitConfig | undefined>();
    expectTypeOf<CustomIntegrationConfig['rateLimit']>().toEqualTypeOf<RateLimitConfig | undefined>();
    expectTypeOf<IntegrationDefinition['poll']>().toEqualTypeOf<PollConfig | undefined>();
    expectTypeOf<CustomIntegrationConfig['poll']>().toEqualTypeOf<PollConfig | undefined>();
    expectTypeOf<IntegrationDefinition['webhooks']>().toEqualTypeOf<WebhookFormat | undefined>();
    expectTypeOf<CustomIntegrationConfig['webhooks']>().toEqualTypeOf<WebhooksConfig | undefined>();
    // Counted, so the block above is not silently skipped.
    expect(sandbox({ publicUrl: 'http://127.0.0.1:8787' }).rateLimit).toEqual({ perConnection: { perSecond: 5, burst: 10 } });
  });
});

describe('defineIntegration refuses', () => {
  it.each([
    [
      { name: 'agent' },
      'integration agent: name: "agent" is reserved: no source may be named "agent" or "queue" (the hub names its own tools agent__… and queue__…)',
    ],
    [
      { name: 'queue' },
      'integration queue: name: "queue" is reserved: no source may be named "agent" or "queue" (the hub names its own tools agent__… and queue__…)',
    ],
    [
      { tools: { recent_events: { description: 'd', method: 'GET', path: '/e' } } },
      'integration acme: tools.recent_events: "recent_events" is reserved: no integration tool may be named "recent_events" (the hub serves <integration>__recent_events)',
    ],
    // A definition is code in the repository: secrets come from config only.
    [{ webhooks: { ...FORMAT, secrets: ['whsec_x'] } }, 'integration acme: webhooks: Unrecognized key: "secrets"'],
    [{ webhooks: { scheme: 'github', tolerance: 5 } }, 'integration acme: webhooks: Unrecognized key: "tolerance"'],
    [
      { poll: { events: { path: '/e', cursorParam: 'after', cursorFrom: 'c' } } },
      'integration acme: poll.events.idAt: Invalid input: expected string, received undefined',
    ],
    [
      { rateLimit: { perConnection: { perSecond: 5, burst: 0.5 } } },
      'integration acme: rateLimit.perConnection.burst: Invalid input: expected int, received number',
    ],
  ])('%j', (input, message) => {
    expect(rejectionOf(input)).toBe(message);
  });
});

describe('selectors', () => {
  it.each([
    ['header:Webhook-ID', { in: 'header', name: 'webhook-id' }],
    ['query:account', { in: 'query', name: 'account' }],
    ['body:data.items.0.id', { in: 'body', path: ['data', 'items', '0', 'id'] }],
    ['body:', 'nothing after "body:" (use header:NAME, body:dotted.path or query:NAME)'],
    ['body:a.constructor', '"constructor" is not allowed in a path'],
    ['body:a b', '"a b" is not a path segment (use A-Z a-z 0-9 _ $ -)'],
    ['query:a&b', '"a&b" is not a query parameter name'],
    ['Header:x', '"Header" is not a place to read from (use header:NAME, body:dotted.path or query:NAME)'],
  ])('%s', (text, expected) => {
    expect(parseSelector(text)).toEqual(expected);
  });
});

describe("a built-in's webhooks: the definition's format with the operator's settings", () => {
  const github = webhookFormatSchema.parse({ scheme: 'github' });
  const stripe = webhookFormatSchema.parse({ scheme: 'stripe' });

  it('merges secrets and limits over the format', () => {
    expect(applyWebhookSettings(stripe, { secrets: ['whsec_a', 'whsec_b'], toleranceSeconds: 120 })).toEqual({
      scheme: 'stripe',
      secrets: ['whsec_a', 'whsec_b'],
      idFrom: { in: 'body', path: ['id'] },
      typeFrom: { in: 'body', path: ['type'] },
      maxBodyBytes: 1048576,
      toleranceSeconds: 120,
    });
    expect(applyWebhookSettings(github, { secrets: ['s'], maxBodyBytes: 4096 })).toEqual({
      scheme: 'github',
      secrets: ['s'],
      idFrom: { in: 'header', name: 'x-github-delivery' },
      typeFrom: { in: 'header', name: 'x-github-event' },
      maxBodyBytes: 4096,
    });
  });

  it('takes no webhooks without secrets, and says why settings cannot apply', () => {
    expect(applyWebhookSettings(github, undefined)).toBeUndefined();
    expect(applyWebhookSettings(github, { maxBodyBytes: 4096 })).toBeUndefined();
    expect(applyWebhookSettings(undefined, { secrets: ['s'] })).toEqual({ error: 'this integration receives no webhooks' });
    expect(applyWebhookSettings(github, { secrets: ['s'], toleranceSeconds: 60 })).toEqual({
      error: 'toleranceSeconds: scheme github signs no timestamp, so no tolerance applies',
    });
  });
});
