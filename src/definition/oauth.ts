import { z } from 'zod';

/** A provider's OAuth 2.0 authorization server, as a definition or a custom integration declares it. */
export const oauthSchema = z.strictObject({
  authorizeUrl: z.url(),
  tokenUrl: z.url(),
  revokeUrl: z.url().optional(),
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
