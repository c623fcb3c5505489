/**
 * The shared argument validator: objects that declare their properties are closed unless the
 * schema says otherwise, nested ones included, and the refusal names the argument.
 */
import { ProtocolError } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { inputValidator } from '../../src/mcp/validate-input.js';

function refusal(f: () => void): { code: number; message: string; data: unknown } {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    const e = err as ProtocolError;
    return { code: e.code, message: e.message, data: e.data };
  }
  throw new Error('expected a refusal');
}

describe('inputValidator', () => {
  const schema = {
    properties: {
      filter: { type: 'object', properties: { status: { type: 'string' } } },
      tags: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
      meta: { type: 'object', additionalProperties: true },
    },
  };
  const check = inputValidator('acme__search', schema);

  it('accepts declared arguments, and anything inside an object that allows more', () => {
    expect(() => check({ filter: { status: 'open' }, tags: [{ name: 'a' }], meta: { anything: 1 } })).not.toThrow();
  });

  it('names undeclared arguments at any depth', () => {
    expect(refusal(() => check({ filter: { status: 'open', owner: 'x' }, tags: [{ name: 'a', admin: true }], role: 'admin' }))).toEqual({
      code: -32602,
      message: 'invalid arguments for acme__search: unknown arguments "filter.owner", "tags[0].admin", "role" (not in the tool\'s input schema)',
      data: { arguments: ['filter.owner', 'tags[0].admin', 'role'] },
    });
  });

  it('leaves a schema that allows more arguments open, and still checks types', () => {
    const open = inputValidator('acme__open', { properties: { n: { type: 'number' } }, additionalProperties: true });
    expect(() => open({ n: 1, extra: 'ok' })).not.toThrow();
    expect(refusal(() => open({ n: 'one' }))).toMatchObject({ code: -32602, message: expect.stringContaining('invalid arguments for acme__open: ') });
  });
});
