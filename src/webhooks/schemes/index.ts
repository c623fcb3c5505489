/**
 * Webhook signature schemes as data: verify a delivery's raw bytes against the active secrets,
 * then describe it (dedupe id, type, event id, account) with the integration's selectors.
 * Pure functions: the route owns HTTP, body limits and the inbox.
 */
export { type DeliveryFormat, type DeliveryToDescribe, type Description, describeDelivery } from './describe.js';
export { SCHEMES, type SchemeSpec } from './table.js';
export { type DeliveryToVerify, type RejectionCode, type Verdict, verifyDelivery } from './verify.js';
