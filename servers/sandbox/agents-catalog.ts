/**
 * The sandbox marketplace's agents: small deterministic stand-ins with the shapes seed 000 shows
 * (a support triage classifier, a writer that streams, an echo that shows what it was sent).
 * No model runs: answers are computed from the input, so tests and demos can predict them.
 */

export interface SandboxAgent {
  id: string;
  title: string;
  description: string;
  /** The agent's output for an input; streamed agents' `text` is sent token by token. */
  run(input: Record<string, unknown>, sessionId: string | undefined): { output: unknown; text: string };
}

const words = (s: string): string[] => s.split(/\s+/).filter(Boolean);
const textOf = (input: Record<string, unknown>): string => (typeof input['input'] === 'string' ? input['input'] : JSON.stringify(input));

/** Seed 000's support triage: keyword rules in place of a model, with a confidence score. */
function triage(input: Record<string, unknown>) {
  const text = `${String(input['ticket_subject'] ?? '')} ${String(input['ticket_body'] ?? input['input'] ?? '')}`.toLowerCase();
  const rules: Array<[RegExp, string, string]> = [
    [/refund|invoice|charge|billing|price/, 'billing', 'high'],
    [/error|crash|broken|bug|403|500|fail/, 'bug', 'high'],
    [/could you add|feature|would be nice|support for/, 'feature', 'low'],
  ];
  const hit = rules.find(([re]) => re.test(text));
  const [category, priority] = hit ? [hit[1], hit[2]] : ['question', 'normal'];
  const output = {
    category,
    priority,
    confidence_score: hit ? 0.92 : 0.55,
    suggested_reply: `Thanks for reaching out about this ${category} matter; we are on it.`,
  };
  return { output, text: output.suggested_reply };
}

export const SANDBOX_AGENTS: readonly SandboxAgent[] = [
  {
    id: 'echo_v1',
    title: 'Echo',
    description: 'Answers with the input it got and the session identity the caller was given.',
    run: (input, sessionId) => {
      const text = `echo: ${textOf(input)}`;
      return { output: { reply: text, session_id: sessionId ?? null, confidence: 1 }, text };
    },
  },
  {
    id: 'support_triage_v4',
    title: 'Support triage',
    description: 'Classifies a support ticket (billing, bug, feature, question) with a priority, a confidence and a suggested reply.',
    run: (input) => triage(input),
  },
  {
    id: 'writer_v2',
    title: 'Writer',
    description: 'Writes a short paragraph about the input; in stream mode the words arrive one by one.',
    run: (input) => {
      const topic = textOf(input);
      const text = `Here is a short note on ${topic}. ${words(topic).length} words were given; each is taken in turn, and this sentence closes the note.`;
      return { output: text, text };
    },
  },
];

export function sandboxAgent(id: string): SandboxAgent | undefined {
  return SANDBOX_AGENTS.find((a) => a.id === id);
}

/** The tokens a streamed answer is sent as: words with their following space. */
export function tokensOf(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}
