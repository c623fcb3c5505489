import { describe, expect, it } from 'vitest';
import type { AgentPartial } from '../../src/agents/adapter.js';
import { mergedPartials } from '../../src/agents/partials.js';

describe('mergedPartials', () => {
  it('joins the text of one read into one partial, keeping a tool call or a thought after the text before it', () => {
    const sent: AgentPartial[] = [];
    const p = mergedPartials((x) => sent.push(x));
    p.push({ kind: 'text', text: 'Hel' });
    p.push({ kind: 'text', text: 'lo ' });
    p.push({ kind: 'tool_call', tool: 'search' });
    p.push({ kind: 'text', text: 'wor' });
    p.push({ kind: 'thought', text: 'hm' });
    p.push({ kind: 'text', text: 'ld' });
    expect(sent).toEqual([
      { kind: 'text', text: 'Hello ' },
      { kind: 'tool_call', tool: 'search' },
      { kind: 'text', text: 'wor' },
      { kind: 'thought', text: 'hm' },
    ]);
    p.flush();
    p.flush();
    expect(sent.at(-1)).toEqual({ kind: 'text', text: 'ld' });
    expect(sent).toHaveLength(5);
  });
});
