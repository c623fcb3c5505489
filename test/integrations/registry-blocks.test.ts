import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { configSchema } from '../../src/config/schema.js';
import { applyWebhookSettings } from '../../src/definition/webhooks.js';
import { resolveIntegrations } from '../../src/integrations/registry.js';

const ctx = {
  publicUrl: 'http://127.0.0.1:8787',
  clock: systemClock,
  hostedClient: (name: string) => (name === 'sandbox' ? { id: 'switchboard', secret: () => 'sandbox-secret' } : undefined),
};

const acme = {
  type: 'custom',
  oauth: { authorizeUrl: 'https://acme.test/authorize', tokenUrl: 'https://acme.test/token', clientId: 'id', clientSecret: 'secret', scopes: ['read'] },
  apiBaseUrl: 'https://api.acme.test',
  rateLimit: { perConnection: { perSecond: 5, burst: 10 } },
  idempotencyHeader: 'Idempotency-Key',
  webhooks: { scheme: 'standard-webhooks', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] },
  poll: { events: { path: '/events', cursorParam: 'after', cursorFrom: 'next_cursor', itemsAt: 'events', idAt: 'id' } },
  tools: { list: { description: 'List', method: 'GET', path: '/things', readOnly: true } },
};

describe('resolved integrations carry their config blocks', () => {
  it('a custom integration: pacing, idempotency, polling and webhooks with its secrets', () => {
    const config = configSchema.parse({ integrations: { acme } });
    const [resolved] = resolveIntegrations(config, ctx);
    expect(resolved?.definition.rateLimit).toEqual({ perConnection: { perSecond: 5, burst: 10 } });
    expect(resolved?.definition.idempotencyHeader).toBe('Idempotency-Key');
    expect(resolved?.definition.poll?.['events']).toMatchObject({ path: '/events', cursorParam: 'after' });
    // The definition describes the format; the secrets stay with the resolved entry only.
    expect(JSON.stringify(resolved?.definition)).not.toContain('whsec_');
    expect(resolved?.webhooks).toMatchObject({ scheme: 'standard-webhooks', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] });
  });

  it('webhook settings for a built-in that receives no webhooks are refused; the sandbox takes them with its hosted secret beside', () => {
    expect(applyWebhookSettings(undefined, { secrets: ['s3cret'] })).toEqual({ error: 'this integration receives no webhooks' });
    const config = configSchema.parse({ integrations: { sandbox: { webhooks: { secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] } } } });
    const hosted = { ...ctx, hostedClient: () => ({ id: 'switchboard', secret: () => 'sandbox-secret', webhookSecret: () => 'whsec_hosted' }) };
    const sandbox = resolveIntegrations(config, hosted).find((r) => r.definition.name === 'sandbox');
    expect(sandbox?.webhooks).toMatchObject({ scheme: 'standard-webhooks', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_hosted'] });
    const bad = configSchema.parse({ integrations: { sandbox: { webhooks: { secrets: ['s3cret'], toleranceSeconds: 60 } } } });
    expect(resolveIntegrations(bad, ctx).find((r) => r.definition.name === 'sandbox')?.webhooks?.toleranceSeconds).toBe(60);
  });
});
