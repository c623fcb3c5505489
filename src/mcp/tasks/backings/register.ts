import type { AgentSource } from '../../../agents/source.js';
import { HubError, needsNewLink } from '../../../errors.js';
import type { IntegrationDefinition } from '../../../integrations/definition.js';
import { circuitHold, type CircuitView } from '../../../outbox/queue-source.js';
import type { OutboxService } from '../../../outbox/service.js';
import type { Job, OpenJob } from '../../../outbox/types.js';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { TaskService } from '../service.js';
import { AgentTaskBacking } from './agent-task.js';
import { OutboxJobBacking } from './outbox-job.js';

/** What the registry needs of an integration to render its queued writes. */
export interface IntegrationOfJobs {
  definition: IntegrationDefinition;
  /** A final job as the result its direct call gives (rendered and held to the tool's output schema); throws where that call threw. */
  jobAnswer(job: OpenJob): CallToolResult;
  relinkResult(job: Job): Promise<CallToolResult>;
}

/**
 * The composition root's one call: the registry reads queued writes from the outbox and async
 * agent calls from the agents' task store, each through the few methods its backing needs.
 */
export function registerBackings(
  tasks: TaskService,
  d: { outbox: OutboxService; integrations: readonly IntegrationOfJobs[]; agents: AgentSource; circuits?: CircuitView },
): void {
  const sources = new Map(d.integrations.map((s) => [s.definition.name, s]));
  tasks.use(
    new OutboxJobBacking({
      get: (id, owner) => d.outbox.outbox.get(id, owner),
      cancel: (id, owner) => d.outbox.cancel(id, owner),
      on: (id, listener) => d.outbox.events.on(id, listener),
      heldBy: async (job) => (await circuitHold(d.circuits, job.integration))?.message,
      render: async (job) => {
        const source = sources.get(job.integration);
        // An integration removed from the config since: its jobs have no tool to render them.
        if (!source) throw new HubError('tool_not_found', `the integration ${job.integration} is no longer configured`);
        try {
          return source.jobAnswer(job);
        } catch (err) {
          // Its account must be linked again: the task's result carries the link, as the direct call's answer does.
          if (needsNewLink(err)) return source.relinkResult(job);
          throw err;
        }
      },
    }),
  );
  const agentTasks = d.agents.tasks;
  if (!agentTasks) return;
  tasks.use(
    new AgentTaskBacking({
      read: (id, owner) => agentTasks.read(id, owner),
      cancel: (id) => agentTasks.cancel(id),
      on: (id, listener) => agentTasks.events.on(id, listener),
      render: (t) => d.agents.renderTask(t),
    }),
  );
}
