import { describe, expect, it } from 'vitest';
import { redactedUrl } from '../../src/store/choice.js';
import { urlSecrets } from '../../src/store/url-secrets.js';

describe('database URLs shown without their secrets', () => {
  it('hides the password of the authority, raw and decoded', () => {
    const r = urlSecrets('postgres://sb:p%23ss@db.internal:5432/sb?sslmode=require');
    expect(r.safeUrl).toBe('postgres://sb:***@db.internal:5432/sb?sslmode=require');
    expect(r.secrets).toEqual(expect.arrayContaining(['p%23ss', 'p#ss']));
  });

  it("hides libpq's password and sslpassword query parameters (the socket form carries them there)", () => {
    const url = 'postgresql:///sb?host=/run/postgresql&user=sb&password=s3cr%2Ft&sslpassword=k3y';
    const r = urlSecrets(url);
    expect(r.safeUrl).not.toMatch(/s3cr|k3y/);
    expect(r.safeUrl).toContain('host=%2Frun%2Fpostgresql');
    expect(r.secrets).toEqual(expect.arrayContaining(['s3cr/t', 's3cr%2Ft', 'k3y']));
    expect(redactedUrl(url)).not.toMatch(/s3cr|k3y/);
    // A message that quotes the URL as written is scrubbed of it too.
    const scrub = (text: string) => r.secrets.reduce((t, s) => t.split(s).join('***'), text);
    expect(scrub(`connect failed for ${url}`)).not.toMatch(/s3cr|k3y/);
  });

  it('leaves a URL with no secret as it is, and names none of one it cannot parse', () => {
    expect(urlSecrets('postgres://sb@db/sb')).toEqual({ safeUrl: 'postgres://sb@db/sb', secrets: [] });
    expect(urlSecrets('postgres://sb:pa ss@[bad/sb')).toEqual({ safeUrl: '(unparseable database URL)', secrets: ['postgres://sb:pa ss@[bad/sb'] });
  });
});
