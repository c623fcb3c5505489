import type { TestProject } from 'vitest/node';
import { PG_SKIP_REASON, startPostgres } from '../helpers/postgres.js';

/** One throwaway cluster for the whole run, shared by every worker; each suite makes its own database. */
export default async function setup(project: TestProject): Promise<() => void> {
  if (PG_SKIP_REASON !== null) {
    project.provide('switchboardPgAdminUrl', '');
    return () => {};
  }
  const server = await startPostgres();
  project.provide('switchboardPgAdminUrl', server.adminUrl);
  return () => server.stop();
}
