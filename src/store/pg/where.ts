/**
 * `column = $n` for each field of `filter` that is given, numbered after what `params` holds (the
 * values are appended to it): the list filters of the queue and the inbox (state, integration,
 * tenant, user) as PostgreSQL's numbered parameters.
 */
export function equalsWhere<K extends string>(
  filter: Partial<Record<K, string | number | boolean | undefined>>,
  columns: ReadonlyArray<readonly [K, string]>,
  params: unknown[],
): string[] {
  const where: string[] = [];
  for (const [key, column] of columns) {
    const value = filter[key];
    if (value === undefined) continue;
    params.push(value);
    where.push(`${column} = $${params.length}`);
  }
  return where;
}

/** The columns both lists filter on, by the filter's field names. */
export const OWNER_AND_STATE = [
  ['state', 'state'],
  ['integration', 'integration'],
  ['tenant', 'tenant_id'],
  ['user', 'user_id'],
] as const;
