import { describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { hubErrorOf } from '../helpers/errors.js';

const FILE = '/etc/sb/switchboard.config.json';

function acme(rateLimit: unknown) {
  return {
    integrations: {
      acme: {
        type: 'custom',
        auth: { type: 'none' },
        apiBaseUrl: 'https://api.acme.test',
        rateLimit,
        tools: { list_tickets: { description: 'Lists.', method: 'GET', path: '/tickets', readOnly: true } },
      },
    },
  };
}

describe('the rateLimit block', () => {
  it('accepts concurrency beside the buckets', () => {
    const c = parseConfigValue(acme({ perConnection: { perSecond: 5, burst: 10 }, concurrency: 4 }), FILE, () => {});
    const a = c.integrations['acme'];
    expect(a?.type === 'custom' && a.rateLimit).toEqual({ perConnection: { perSecond: 5, burst: 10 }, concurrency: 4 });
  });

  it.each([
    [{ perApp: { perSecond: 1 }, concurrency: 0 }, 'integrations.acme.rateLimit.concurrency: expected at least 1 request in flight'],
    [{ perApp: { perSecond: 1 }, concurrency: 2.5 }, 'integrations.acme.rateLimit.concurrency: expected a whole number of requests in flight'],
    [{ perApp: { perSecond: 1 }, concurrency: 5000 }, 'integrations.acme.rateLimit.concurrency: expected at most 1000 requests in flight'],
    [{ perConnection: { perSecond: -1 } }, 'integrations.acme.rateLimit.perConnection.perSecond: Too small: expected number to be >0'],
  ])('stops loading on a bad value, naming the integration and the key: %j', (rateLimit, expected) => {
    const err = hubErrorOf(() => parseConfigValue(acme(rateLimit), FILE, () => {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toBe(`${FILE}: ${expected}`);
  });
});
