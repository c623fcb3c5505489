import { z } from 'zod';

/**
 * An endpoint of the authorization server: http or https (RFC 6749 §3.1, §3.2), without a user name
 * or password, which would not be sent (the token request authenticates with the client's
 * credentials; simple-oauth2 keeps only the origin) and, in the browser's authorize URL, would be
 * shown to every user. Any URL parsed before: `htps://` loaded, and each link then failed as
 * "internal". A query stays (some servers put the tenant or API version there); a fragment never
 * reaches a server (RFC 6749 §3.1 forbids it on the authorization endpoint).
 */
const endpointUrl = z
  .url()
  // Checks go on after a failed one: what is not a URL at all was said above.
  .refine((u) => !URL.canParse(u) || /^https?:$/.test(new URL(u).protocol), { message: 'must be an http or https URL' })
  .refine(
    (u) => {
      if (!URL.canParse(u)) return true;
      const url = new URL(u);
      return url.username === '' && url.password === '' && url.hash === '';
    },
    { message: 'must have no user name, password or fragment: the client authenticates with clientId and clientSecret' },
  );

/** A provider's OAuth 2.0 authorization server, as a definition or a custom integration declares it. */
export const oauthSchema = z.strictObject({
  authorizeUrl: endpointUrl,
  tokenUrl: endpointUrl,
  revokeUrl: endpointUrl.optional(),
  /** RFC 9207: the `iss` the authorization server puts on its callback; defaults to the authorize URL's origin. */
  issuer: z.string().optional(),
  /** The server always sends `iss` (RFC 9207 §3): a callback without it is then refused. */
  requireIss: z.boolean().default(false),
  scopes: z.array(z.string()).default([]),
  scopeSeparator: z.string().default(' '),
  tokenAuth: z.enum(['basic', 'body']).default('basic'),
  extraAuthorizeParams: z.record(z.string(), z.string()).default({}),
});

export type OAuthDefinition = z.infer<typeof oauthSchema>;
