import { defineIntegration, type IntegrationInput } from '../../src/integrations/definition.js';

/** The message defineIntegration refuses `base` changed by `input` with; fails if it accepts it. */
export function rejectionOf(base: Record<string, unknown>, input: Record<string, unknown>): string {
  try {
    defineIntegration({ ...base, ...input } as IntegrationInput);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the definition was accepted');
}
