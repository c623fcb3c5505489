import { describe, expect, it } from 'vitest';
import { Lifetime } from '../../src/mcp/downstream/lifetime.js';

describe('Lifetime', () => {
  it('aborts the work still in it when it ends, not the work that left, and aborts work that joins after', () => {
    const life = new Lifetime();
    const a = life.join();
    const b = life.join();
    b.leave();
    expect(life.ended).toBe(false);
    life.end();
    expect(a.signal.aborted).toBe(true);
    expect(b.signal.aborted).toBe(false);
    expect(life.ended).toBe(true);
    expect(life.join().signal.aborted).toBe(true);
  });
});
