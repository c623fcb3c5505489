import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { exposure } from '../../src/http/security.js';

describe('server.internalUrl', () => {
  it('is optional, must be a URL, and its host is accepted as a Host header beside the bind address', () => {
    expect(configSchema.parse({}).server.internalUrl).toBeUndefined();
    expect(configSchema.safeParse({ server: { internalUrl: 'not a url' } }).success).toBe(false);
    const config = configSchema.parse({ server: { host: '0.0.0.0', port: 8787, publicUrl: 'https://hub.example.test', internalUrl: 'http://10.0.0.5:8787' } });
    const exp = exposure(config, 8787);
    expect(exp.hosts.has('10.0.0.5:8787')).toBe(true);
    expect(exp.hosts.has('hub.example.test')).toBe(true);
    // No browser page is served from it: it is no allowed Origin.
    expect(exp.origins.has('http://10.0.0.5:8787')).toBe(false);
  });

  it('adds nothing when unset', () => {
    const exp = exposure(configSchema.parse({ server: { host: '0.0.0.0', port: 8787 } }), 8787);
    expect(exp.hosts.has('10.0.0.5:8787')).toBe(false);
  });
});
