import { describe, expect, it } from 'vitest';
import { renderUrl } from '../../src/definition/agent-template.js';

const vars = (input: Record<string, unknown>) => ({ input, sessionId: 's1', callId: 'c1' });

describe("an http agent's URL template", () => {
  const template = 'https://api.example.test/v1/{{input.city}}?units={{input.units}}&lang=en&q={{ input.q }}#top';

  it('fills each value as one percent-encoded component', () => {
    expect(renderUrl(template, vars({ city: 'São Paulo', units: 'metric', q: 'a&b=c' }))).toBe(
      'https://api.example.test/v1/S%C3%A3o%20Paulo?units=metric&lang=en&q=a%26b%3Dc#top',
    );
  });

  it('leaves out a query parameter whose one placeholder has no value, keeping the others and the fragment', () => {
    expect(renderUrl(template, vars({ city: 'Lisbon', q: 'x' }))).toBe('https://api.example.test/v1/Lisbon?lang=en&q=x#top');
    expect(renderUrl('https://api.example.test/v1?units={{input.units}}', vars({}))).toBe('https://api.example.test/v1');
  });

  it('keeps a parameter whose value is longer text, or a value given empty', () => {
    expect(renderUrl('https://a.test/?q=city:{{input.city}}', vars({}))).toBe('https://a.test/?q=city:');
    expect(renderUrl('https://a.test/?units={{input.units}}', vars({ units: '' }))).toBe('https://a.test/?units=');
  });
});
