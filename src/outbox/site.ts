import { createHash } from 'node:crypto';
import { canonicalJson } from './hash.js';

/**
 * Which site a connection's API base is on, as a write queued for it records it: a digest of the
 * values its link learned (Jira's cloud id, Salesforce's instance URL), null when it learned none
 * (a fixed base, a key from config). The values rather than the base they fill: an operator's edit
 * of apiBaseUrl moves no account to another site, a relink does. A digest, as the ordering key is,
 * so that the queue's columns (`queue list`) show no account's value; the values themselves are in
 * the connections table in plain text, so a keyed digest would hide nothing more.
 */
export function siteDigest(values: Readonly<Record<string, string>>): string | null {
  if (Object.keys(values).length === 0) return null;
  return `s1.${createHash('sha256').update(canonicalJson(values)).digest('base64url')}`;
}
