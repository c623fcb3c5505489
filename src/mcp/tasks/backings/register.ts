import type { AgentSource } from '../../../agents/source.js';
import { HubError } from '../../../errors.js';
import type { IntegrationDefinition } from '../../../integrations/definition.js';
import { answerOfJob } from '../../../integrations/outbound.js';
import type { OutboxService } from '../../../outbox/service.js';
import type { TaskService } from '../service.js';
import { AgentTaskBacking } from './agent-task.js';
import { OutboxJobBacking } from './outbox-job.js';

/**
 * The composition root's one call: the registry reads queued writes from the outbox and async
 * agent calls from the agents' task store, each through the few methods its backing needs.
 */
export function registerBackings(
  tasks: TaskService,
  d: { outbox: OutboxService; integrations: readonly { definition: IntegrationDefinition }[]; agents: AgentSource },
): void {
  const definitions = new Map(d.integrations.map((s) => [s.definition.name, s.definition]));
  tasks.use(
    new OutboxJobBacking({
      get: (id, owner) => d.outbox.outbox.get(id, owner),
      cancel: (id, owner) => d.outbox.cancel(id, owner),
      on: (id, listener) => d.outbox.events.on(id, listener),
      render: (job) => {
        const definition = definitions.get(job.integration);
        // An integration removed from the config since: its jobs have no tool to render them.
        if (!definition) throw new HubError('tool_not_found', `the integration ${job.integration} is no longer configured`);
        return answerOfJob(definition, job);
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
