import { describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { defineIntegration, type IntegrationInput } from '../../src/integrations/definition.js';
import { rejectionOf } from '../helpers/definitions.js';

/**
 * A tool's JSON Schema that no validator can compile (a typo'd type, a dangling $ref) is refused
 * when the config or the definition is loaded, naming the integration, the tool and the key, as
 * an agent's schema is: not accepted, to fail every call of the tool afterwards.
 */
describe("a tool's schema checked at load", () => {
  const tool = (input: Record<string, unknown>, output?: Record<string, unknown>) => ({
    description: 'd',
    method: 'GET',
    path: '/t',
    readOnly: true,
    input,
    ...(output ? { output } : {}),
  });

  it('refuses a config tool whose input or output schema cannot be compiled, naming the file, the tool and the key', () => {
    const raw = {
      integrations: {
        x: {
          type: 'custom',
          auth: { type: 'none' },
          apiBaseUrl: 'http://127.0.0.1:1/api',
          tools: {
            t: tool({ type: 'object', properties: { a: { type: 'strin' } } }),
            u: tool({ type: 'object', properties: { b: { $ref: '#/$defs/missing' } } }, { type: 'object', properties: { n: { minimum: 'one' } } }),
          },
        },
      },
    };
    expect(() => parseConfigValue(raw, 'switchboard.config.json')).toThrow(
      'switchboard.config.json: integrations.x.tools.t.input: properties.a.type: "strin" is not a JSON type (string, number, integer, boolean, object, array, null); ' +
        'integrations.x.tools.u.input: properties.b.$ref: "#/$defs/missing" points to no schema in this one (is the definition it names missing or misspelt?); ' +
        'integrations.x.tools.u.output: properties.n.minimum: must be a number',
    );
  });

  it('refuses the same in a definition in code, and takes a sound schema', () => {
    const base: IntegrationInput = {
      name: 'acme',
      title: 'Acme',
      oauth: { authorizeUrl: 'https://acme.example/oauth/authorize', tokenUrl: 'https://acme.example/oauth/token' },
      apiBaseUrl: 'https://api.acme.example/v1',
      tools: {},
    };
    expect(rejectionOf({ ...base }, { tools: { t: tool({ properties: { a: { type: ['string', 'nul'] } } }) } })).toBe(
      'integration acme: tools.t.input: properties.a.type: ["string","nul"] is not a JSON type (string, number, integer, boolean, object, array, null)',
    );
    const sound = defineIntegration({ ...base, tools: { t: tool({ type: 'object', properties: { a: { type: ['string', 'null'] } } }) } } as IntegrationInput);
    expect(sound.tools['t']?.input).toEqual({ type: 'object', properties: { a: { type: ['string', 'null'] } } });
  });
});
