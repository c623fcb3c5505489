import { createECDH, createHash } from 'node:crypto';
import type { SecretStore } from '../store/hub-secrets.js';

/** Names of the authorization server's secrets in the hub's secret store (sealed by the vault). */
const SIGNING_SECRET = 'oauth-as-signing-p256';
const COOKIE_SECRET = 'oauth-as-cookies';

export interface AsKeys {
  /** The private JWK the library signs with (ID tokens, JWKS); ES256. */
  signing: { kty: 'EC'; crv: 'P-256'; d: string; x: string; y: string; kid: string; alg: 'ES256'; use: 'sig' };
  /** Keys of the library's signed cookies (interaction and session). */
  cookies: string[];
  /** The raw cookie secret, for the sign-in form's CSRF token. */
  formSecret: Buffer;
}

/**
 * The keys are generated once, on first start, as random secrets in the hub's secret store: the
 * vault seals them, every process on the data dir reads the same ones, and none is in config or
 * logs. A P-256 private key is a 32-byte scalar below the group order (a random value is one with
 * probability 1 - 2^-32), so the signing key is derived from the stored bytes, not stored as a JWK.
 */
export async function loadAsKeys(secrets: SecretStore): Promise<AsKeys> {
  const [d, cookie] = await Promise.all([secrets.secret(SIGNING_SECRET, 32), secrets.secret(COOKIE_SECRET, 32)]);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey();
  const x = point.subarray(1, 33).toString('base64url');
  const y = point.subarray(33).toString('base64url');
  // RFC 7638 thumbprint as the key id: stable, and says nothing about the key.
  const kid = createHash('sha256')
    .update(JSON.stringify({ crv: 'P-256', kty: 'EC', x, y }))
    .digest('base64url');
  return {
    signing: { kty: 'EC', crv: 'P-256', d: d.toString('base64url'), x, y, kid, alg: 'ES256', use: 'sig' },
    cookies: [cookie.toString('base64url')],
    formSecret: cookie,
  };
}
