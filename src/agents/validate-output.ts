import { fromJsonSchema } from '@modelcontextprotocol/server';
import { readPath } from '../definition/agent-template.js';

/**
 * Seed 000, "Semantic Errors": a 200 does not mean the output is right. An output is accepted when
 * it matches the declared schema (with the SDK's own JSON Schema validator, as tool inputs are)
 * and, when asked, carries a confidence of at least `min` at a JSON path. Undefined means valid.
 */
export type OutputCheck = (output: unknown) => string | undefined;

export interface OutputRules {
  outputSchema?: Record<string, unknown> | undefined;
  minConfidence?: { path: string; min: number } | undefined;
}

export function outputCheck(r: OutputRules): OutputCheck {
  const declared = r.outputSchema;
  // Compiled on the first output, as tool inputs are (src/mcp/validate-input.ts): ajv and its
  // compile are not needed before the stdio face's first tools/list.
  let schema: ReturnType<typeof fromJsonSchema>['~standard'] | undefined;
  const confidence = r.minConfidence;
  return (output) => {
    if (declared) {
      schema ??= fromJsonSchema({ type: 'object', ...declared })['~standard'];
      // MCP: structuredContent is a JSON object; a string or array cannot be the tool's declared output.
      if (output === null || typeof output !== 'object' || Array.isArray(output)) return 'the output is not a JSON object, as the output schema asks';
      const v = schema.validate(output);
      if (v instanceof Promise) return 'the JSON Schema validator answered asynchronously';
      if (v.issues) return `the output does not match the output schema: ${v.issues.map((i) => i.message).join('; ')}`;
    }
    if (confidence) {
      const found = atPath(output, confidence.path);
      if (typeof found !== 'number' || Number.isNaN(found)) return `the output has no number at ${confidence.path} (minConfidence)`;
      if (found < confidence.min) return `the confidence at ${confidence.path} is ${found}, below ${confidence.min}`;
    }
    return undefined;
  };
}

/** The value at a small JSON path: `$.a.b`, `a.b`, `scores[0].value`, `$['odd key']` (src/definition/agent-template.ts). */
export const atPath = readPath;
