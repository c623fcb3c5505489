import { HUB_TENANT } from '../../auth/ids.js';
import { isRecord } from '../../is-record.js';
import { Vault } from '../../vault/vault.js';
import type { TaskError, TaskOwner, TaskRecord, TaskRepository, TaskState, TaskUpdate } from './types.js';

/** The key a sealed field is kept under: an object, so the repositories store it as any result. */
const SEALED = 'switchboard/sealed';
const RESULT_KIND = 'mcp_task_result';
const INPUT_KIND = 'mcp_task_input_requests';
const MESSAGE_KIND = 'mcp_task_status_message';
const ERROR_KIND = 'mcp_task_error';

/**
 * Task records with their result, pending input requests, status message and error sealed at
 * rest: a tool's result holds whatever the user's accounts, agents and servers answered, and an
 * elicitation what was asked of them; neither is left in the clear on disk (agent task results and
 * errors are sealed in their own store too). The status message and the error are sealed as well:
 * a failed task's message quotes its failure (an agent's reason, a provider's refusal body, a
 * downstream's isError text), which would otherwise sit in the clear beside the sealed result.
 * Sealed under the hub's data key, bound to the task id; who may read a record is still the
 * repository's owner check. Records written before sealing, and the fixed words another replica
 * writes for a task whose holder stopped, read as they are.
 */
export function sealedTasks(repo: TaskRepository, vault: Vault): TaskRepository {
  const seal = async <T extends TaskState>(id: string, s: T): Promise<T> => {
    if (s.result === undefined && s.inputRequests === undefined && s.statusMessage === undefined && s.error === undefined) return s;
    await vault.ensureDataKey(HUB_TENANT);
    const encrypt = (kind: string, v: string) => vault.encrypt({ tenant: HUB_TENANT, kind, id }, v);
    const sealed = (kind: string, v: Record<string, unknown>) => ({ [SEALED]: encrypt(kind, JSON.stringify(v)) });
    // The error's code stays readable (a column of numbers says nothing); its words and data are sealed.
    const sealedError = (e: TaskError): TaskError => ({ code: e.code, message: '', data: { [SEALED]: encrypt(ERROR_KIND, JSON.stringify(e)) } });
    return {
      ...s,
      ...(s.result === undefined ? {} : { result: sealed(RESULT_KIND, s.result) }),
      ...(s.inputRequests === undefined ? {} : { inputRequests: sealed(INPUT_KIND, s.inputRequests) }),
      ...(s.statusMessage === undefined ? {} : { statusMessage: encrypt(MESSAGE_KIND, s.statusMessage) }),
      ...(s.error === undefined ? {} : { error: sealedError(s.error) }),
    };
  };
  const open = async (r: TaskRecord): Promise<TaskRecord> => {
    const decrypt = (kind: string, envelope: string) => vault.decryptString({ tenant: HUB_TENANT, kind, id: r.id }, envelope);
    const opened = (kind: string, v: Record<string, unknown> | undefined) => {
      const envelope = v?.[SEALED];
      if (typeof envelope !== 'string') return v;
      return JSON.parse(decrypt(kind, envelope)) as Record<string, unknown>;
    };
    const openedError = (e: TaskError | undefined): TaskError | undefined => {
      const envelope = isRecord(e?.data) ? e.data[SEALED] : undefined;
      if (typeof envelope !== 'string') return e;
      return JSON.parse(decrypt(ERROR_KIND, envelope)) as TaskError;
    };
    if (r.result === undefined && r.inputRequests === undefined && r.statusMessage === undefined && r.error === undefined) return r;
    return vault.decrypting(() => {
      const result = opened(RESULT_KIND, r.result);
      const inputRequests = opened(INPUT_KIND, r.inputRequests);
      // Every message this wrapper writes is an envelope; one in the clear was written before, or
      // by a replica recording that a task's holder stopped (words of the hub's own).
      const statusMessage = r.statusMessage !== undefined && Vault.isSealed(r.statusMessage) ? decrypt(MESSAGE_KIND, r.statusMessage) : r.statusMessage;
      const error = openedError(r.error);
      return {
        ...r,
        ...(result === undefined ? {} : { result }),
        ...(inputRequests === undefined ? {} : { inputRequests }),
        ...(statusMessage === undefined ? {} : { statusMessage }),
        ...(error === undefined ? {} : { error }),
      };
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
