/**
 * An integration with webhooks and no account to link (`auth: none`): its events reach clients
 * through `acme__recent_events` and the events resource, which the events tests read.
 */
export const EVENTS_URI = 'switchboard://events/acme';

export const EVENTS_ACME = {
  type: 'custom',
  title: 'Acme',
  apiBaseUrl: 'https://api.acme.test',
  auth: { type: 'none' },
  webhooks: { scheme: 'standard-webhooks', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] },
  tools: { ping: { description: 'ping', method: 'GET', path: '/ping', readOnly: true } },
};
