import type { IntegrationDefinition } from '../src/integrations/definition.js';
import { sandbox } from './sandbox/index.js';

/** What a built-in definition may depend on: where the hub is reachable (for providers it hosts itself). */
export interface DefinitionContext {
  publicUrl: string;
}

/** Every built-in integration, by config name. */
export const BUILTIN_INTEGRATIONS: Readonly<Record<string, (ctx: DefinitionContext) => IntegrationDefinition>> = {
  sandbox,
};
