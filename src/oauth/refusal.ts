import type { OAuthGrantError } from './client.js';

/**
 * Token-endpoint errors about the hub's client, not the user's grant (RFC 6749 §5.2): the refresh
 * token was not judged, and linking again would fail the same way (the code exchange authenticates
 * the same client). Each says who must act.
 */
const CLIENT_REFUSALS: ReadonlyMap<string, string> = new Map(
  Object.entries({
    invalid_client: "the provider refused the hub's client credentials",
    // GitHub answers a wrong client_id or client_secret with HTTP 200 and this error
    // (docs.github.com, "Troubleshooting OAuth app access token request errors").
    incorrect_client_credentials: "the provider refused the hub's client credentials",
    // Slack's names for the same (api.slack.com/methods/oauth.v2.access, errors).
    invalid_client_id: "the provider refused the hub's client credentials",
    bad_client_secret: "the provider refused the hub's client credentials",
    unauthorized_client: "the provider does not allow the hub's client to refresh tokens",
    unsupported_grant_type: 'the provider does not accept the refresh_token grant',
  }),
);

const FIX_CREDENTIALS = "check the integration's clientId and clientSecret";
const FIX_REGISTRATION = "check the client's registration at the provider (its grant types)";

/**
 * Why a refused refresh says nothing about the grant, naming the fix, or undefined when it may
 * mean the grant is gone (invalid_grant, a provider's name for a dead refresh token, an error the
 * hub does not know, an unusable 2xx answer after which the refresh token may be spent). A 3xx was
 * not followed (the refresh token goes nowhere else) and a 4xx without an OAuth error never
 * reached the grant: a wrong tokenUrl, a proxy, a provider failing on its side.
 */
export function refusalNotAboutGrant(err: OAuthGrantError): string | undefined {
  const named = `${err.error}${err.description ? `: ${err.description}` : ''}`;
  if (err.status >= 300 && err.status < 400)
    return `the token endpoint answered ${err.status}, a redirect, which the hub does not follow (the refresh token is not sent elsewhere): check the integration's tokenUrl`;
  if (err.status >= 400 && !err.named)
    return `the token endpoint answered ${err.status} without an OAuth error, so the refresh token was not judged: check the integration's tokenUrl, or wait for the provider to recover`;
  const refusal = err.named ? CLIENT_REFUSALS.get(err.error) : undefined;
  if (refusal === undefined) return undefined;
  const fix = err.error === 'unauthorized_client' || err.error === 'unsupported_grant_type' ? FIX_REGISTRATION : FIX_CREDENTIALS;
  return `${refusal} (${named}): ${fix}`;
}
