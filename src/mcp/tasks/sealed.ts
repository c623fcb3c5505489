import { HUB_TENANT } from '../../auth/ids.js';
import type { Vault } from '../../vault/vault.js';
import type { TaskOwner, TaskRecord, TaskRepository, TaskState, TaskUpdate } from './types.js';

/** The key a sealed field is kept under: an object, so the repositories store it as any result. */
const SEALED = 'switchboard/sealed';
const RESULT_KIND = 'mcp_task_result';
const INPUT_KIND = 'mcp_task_input_requests';

/**
 * Task records with their result and pending input requests sealed at rest: a tool's result holds
 * whatever the user's accounts, agents and servers answered, and an elicitation what was asked of
 * them; neither is left in the clear on disk (agent task results and queued writes are sealed in
 * their own stores too). Sealed under the hub's data key, bound to the task id; who may read a
 * record is still the repository's owner check. Records written before sealing read as they are.
 */
export function sealedTasks(repo: TaskRepository, vault: Vault): TaskRepository {
  const seal = async <T extends TaskState>(id: string, s: T): Promise<T> => {
    if (s.result === undefined && s.inputRequests === undefined) return s;
    await vault.ensureDataKey(HUB_TENANT);
    const sealed = (kind: string, v: Record<string, unknown>) => ({ [SEALED]: vault.encrypt({ tenant: HUB_TENANT, kind, id }, JSON.stringify(v)) });
    return {
      ...s,
      ...(s.result === undefined ? {} : { result: sealed(RESULT_KIND, s.result) }),
      ...(s.inputRequests === undefined ? {} : { inputRequests: sealed(INPUT_KIND, s.inputRequests) }),
    };
  };
  const open = async (r: TaskRecord): Promise<TaskRecord> => {
    const opened = (kind: string, v: Record<string, unknown> | undefined) => {
      const envelope = v?.[SEALED];
      if (typeof envelope !== 'string') return v;
      return JSON.parse(vault.decryptString({ tenant: HUB_TENANT, kind, id: r.id }, envelope)) as Record<string, unknown>;
    };
    if (r.result === undefined && r.inputRequests === undefined) return r;
    return vault.decrypting(() => {
      const result = opened(RESULT_KIND, r.result);
      const inputRequests = opened(INPUT_KIND, r.inputRequests);
      return { ...r, ...(result === undefined ? {} : { result }), ...(inputRequests === undefined ? {} : { inputRequests }) };
    });
  };
  return {
    create: async (record: TaskRecord) => repo.create(await seal(record.id, record)),
    get: async (id: string, owner: TaskOwner, now: number) => {
      const r = await repo.get(id, owner, now);
      return r === undefined ? undefined : open(r);
    },
    update: async (id: string, update: TaskUpdate, now: number) => repo.update(id, await seal(id, update), now),
    purgeExpired: (now: number) => repo.purgeExpired(now),
    list: async (owner: TaskOwner, now: number, opts: { after?: string; limit: number }) => Promise.all((await repo.list(owner, now, opts)).map(open)),
  };
}
