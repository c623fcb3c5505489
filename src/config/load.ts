import { originPlaceholder } from '../definition/api-base.js';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import type * as JsoncParser from 'jsonc-parser';
import type { z } from 'zod';
import { HubError } from '../errors.js';
import { duplicateKeys, jsoncParser } from './duplicate-keys.js';
import { interpolateEnv } from './interpolate.js';
import { configSchema, type HubConfig } from './schema.js';
import { literalPlaceholders } from './identity-placeholders.js';
import { isRecord } from '../is-record.js';
import { PARSED_ONCE } from '../parse-once.js';

export const DEFAULT_CONFIG_FILE = 'switchboard.config.json';

/**
 * Without a config file the local sandbox provider is linked in, and the sandbox marketplace's
 * agents (served by the hub itself under /sandbox/marketplace, with its public local keys) are
 * tools, one of each protocol and mode (upagents sync, stream and async, Kore sync and stream,
 * http), so every flow can be tried offline.
 */
const SANDBOX_MARKETPLACE = { protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1', apiKey: 'ua_sandbox_local' } as const;
const EMBEDDED_DEFAULTS = {
  integrations: { sandbox: {} },
  agents: {
    echo: { ...SANDBOX_MARKETPLACE, agentId: 'echo_v1', description: 'Sandbox agent: answers with what it was sent and your session identity.' },
    support_triage: {
      ...SANDBOX_MARKETPLACE,
      agentId: 'support_triage_v4',
      description: 'Sandbox agent: classifies a support ticket (category, priority, confidence, suggested reply).',
      inputSchema: {
        type: 'object',
        properties: { ticket_subject: { type: 'string' }, ticket_body: { type: 'string' } },
        required: ['ticket_subject', 'ticket_body'],
      },
      outputSchema: {
        type: 'object',
        properties: {
          category: { enum: ['billing', 'bug', 'feature', 'question'] },
          priority: { type: 'string' },
          confidence_score: { type: 'number', minimum: 0, maximum: 1 },
          suggested_reply: { type: 'string' },
        },
        required: ['category', 'priority', 'confidence_score', 'suggested_reply'],
      },
    },
    writer: {
      ...SANDBOX_MARKETPLACE,
      agentId: 'writer_v2',
      mode: 'stream',
      description: 'Sandbox agent: writes a short note on a topic, streamed word by word.',
    },
    // Async: the marketplace answers `queued` and posts the result, signed with this (public, local) secret, to the hub.
    echo_async: {
      ...SANDBOX_MARKETPLACE,
      agentId: 'echo_v1',
      mode: 'async',
      webhookSecret: 'whsec_sandbox_local',
      description: 'Sandbox agent (async): answers with what it was sent, through a signed callback to the hub.',
    },
    memory: {
      protocol: 'kore',
      url: '/sandbox/marketplace/kore/agents/memory_v1',
      agentId: 'memory_v1',
      headers: { authorization: 'Bearer kore_sandbox_local' },
      debug: true,
      description: 'Sandbox Kore agent: remembers what you told it in earlier calls (your session only); its thoughts come as progress.',
    },
    storyteller: {
      protocol: 'kore',
      url: '/sandbox/marketplace/kore/agents/storyteller_v1',
      agentId: 'storyteller_v1',
      // A message every 100 ms, as a streaming agent's come: the story is seen arriving, and its
      // first lines reach the client well before the answer (a client that reads a progress
      // notification in the same chunk as the result may drop it, typescript-sdk#2580).
      headers: { authorization: 'Bearer kore_sandbox_local', 'x-sandbox-token-ms': '100' },
      stream: true,
      description: 'Sandbox Kore agent: tells a three-line story about the input, streamed message by message.',
    },
    forecast: {
      protocol: 'http',
      url: '/sandbox/marketplace/http/v1/forecast/{{input.city}}',
      agentId: 'forecast_v1',
      headers: { 'x-api-key': 'http_sandbox_local' },
      body: { question: '{{input.question}}', days: '{{input.days}}', session: '{{sessionId}}' },
      response: { output: { summary: '$.data.summary', highs: '$.data.highs', city: '$.data.city' }, error: '$.error.message', taskId: '$.request_id' },
      description: 'Sandbox agent with its own HTTP API (the http protocol): a weather forecast for a city, up to 14 days ahead.',
      inputSchema: {
        type: 'object',
        properties: { city: { type: 'string' }, question: { type: 'string' }, days: { type: 'integer', minimum: 1 } },
        required: ['city', 'question'],
      },
      outputSchema: {
        type: 'object',
        properties: { summary: { type: 'string' }, highs: { type: 'array', items: { type: 'number' } }, city: { type: 'string' } },
        required: ['summary', 'highs', 'city'],
      },
    },
  },
};

export interface LoadedConfig {
  config: HubConfig;
  /** The file read, or undefined when the embedded defaults are in use. */
  file: string | undefined;
  /** Whether the file itself set `dataDir` (the schema's default fills it in otherwise). */
  dataDirSet: boolean;
}

export interface LoadOptions {
  /** An explicit --config; it must exist. */
  file?: string | undefined;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Told once per load about each deprecated key in use; stderr by default (stdout may carry MCP). */
  warn?: (message: string) => void;
  /**
   * Also warn of keys written twice in one object (the last counts). Off where start-up time is
   * what a client waits for (`stdio`): the check loads a JSON tokenizer (12–36 ms).
   */
  duplicates?: boolean;
}

const stderrWarn = (message: string): void => {
  process.stderr.write(`switchboard: warning: ${message}\n`);
};

/** Reads the config file (explicit, or `switchboard.config.json` when present) or uses embedded defaults. */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const warn = opts.warn ?? stderrWarn;
  if (opts.file !== undefined) {
    const file = resolve(cwd, opts.file);
    if (!existsSync(file)) throw new HubError('config_not_found', `config file not found: ${file}`, { details: { file } });
    return readConfigFile(file, env, warn, opts.duplicates === true);
  }
  const fallback = resolve(cwd, DEFAULT_CONFIG_FILE);
  if (existsSync(fallback)) return readConfigFile(fallback, env, warn, opts.duplicates === true);
  // A link whose target is missing (a dotfiles checkout not mounted yet) is a config the user
  // meant, not the absence of one: the embedded defaults would start a different hub in silence.
  if (lstatSync(fallback, { throwIfNoEntry: false })?.isSymbolicLink() === true) {
    const target = readlinkSync(fallback);
    throw new HubError('config_not_found', `config file ${fallback} is a link to ${target}, which does not exist`, { details: { file: fallback, target } });
  }
  return { config: configSchema.parse(EMBEDDED_DEFAULTS, PARSED_ONCE), file: undefined, dataDirSet: false };
}

function readConfigFile(file: string, env: NodeJS.ProcessEnv, warn: (message: string) => void, duplicates: boolean): LoadedConfig {
  // A byte-order mark (Windows editors write one) is not part of the JSON text.
  const text = readText(file);
  const raw = parseJsoncText(text, file);
  if (duplicates) for (const d of duplicateKeys(text)) warn(`${file}:${d.line}:${d.column}: "${d.path}" is set twice in one object; only the last one counts`);
  const dataDirSet = raw !== null && typeof raw === 'object' && !Array.isArray(raw) && 'dataDir' in raw;
  return { config: parseConfigValue(interpolateEnv(raw, env, file), file, warn), file, dataDirSet };
}

export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env, warn: (message: string) => void = stderrWarn): HubConfig {
  return parseConfigValue(interpolateEnv(parseJsoncText(text, file), env, file), file, warn);
}

/**
 * JSON with comments and trailing commas (JSONC, as VS Code and the README's examples write it).
 * Errors name the file, line and column of the first problem, the way an editor shows them.
 */
export function parseJsoncText(text: string, file: string): unknown {
  // Strict JSON is JSONC too: parsed natively it costs the stdio face's cold start nothing, where
  // loading jsonc-parser costs 12–36 ms (measured here, on busy cores), paid only by files with comments or errors.
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // parsed again below, for the comments or a located error
  }
  const { parse: parseJsonc, printParseErrorCode } = jsoncParser();
  const errors: JsoncParser.ParseError[] = [];
  const raw: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  const first = errors[0];
  if (first) {
    const { line, column } = lineColumn(text, first.offset);
    const found = JSON.stringify(text.slice(first.offset, first.offset + Math.max(1, Math.min(first.length, 20))));
    const what = `${printParseErrorCode(first.error)}${first.offset < text.length ? ` at ${found}` : ' at the end of the file'}`;
    throw new HubError('config_invalid', `${file}:${line}:${column}: not valid JSON (comments and trailing commas are fine): ${what}`, {
      details: { file, line, column, error: printParseErrorCode(first.error) },
    });
  }
  return raw;
}

/** 1-based line and column (in UTF-16 code units, as editors count) of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

export function parseConfigValue(raw: unknown, file: string, warn: (message: string) => void = stderrWarn): HubConfig {
  const result = configSchema.safeParse(raw, PARSED_ONCE);
  if (result.success) {
    for (const key of deprecatedKeys(raw)) warn(`${file}: ${key.path} is deprecated: write ${key.instead}`);
    for (const name of pollsWithoutEventIds(raw))
      warn(
        `${file}: integrations.${name} has webhooks and poll but no webhooks.eventIdFrom: a change that arrives both ways is stored twice; set it to where a delivery carries the id the poll reads at idAt (e.g. "body:id")`,
      );
    for (const [name, e] of Object.entries(result.data.integrations)) {
      const origin = e.type === 'custom' ? originPlaceholder(e.apiBaseUrl) : undefined;
      if (origin !== undefined && e.type === 'custom' && e.allowedHosts === undefined)
        warn(
          `${file}: integrations.${name}.apiBaseUrl's origin is learned per account ({${origin}}) and allowedHosts is not set: each account's token goes to any https origin its link names; set allowedHosts to the provider's hosts (e.g. ["*.my.salesforce.com"])`,
        );
    }
    return literalPlaceholders(result.data);
  }
  const issues = closestBranches(result.error.issues);
  throw new HubError('config_invalid', `${file}: ${formatIssues(issues, raw)}`, {
    details: { file, issues: issues.map((i) => ({ path: i.path.join('.'), message: messageOf(i, raw) })) },
  });
}

/** Keys still accepted under an old spelling (the schema maps them); read from the raw value, which still has them. */
function deprecatedKeys(raw: unknown): { path: string; instead: string }[] {
  const integrations = isRecord(raw) ? raw['integrations'] : undefined;
  if (!isRecord(integrations)) return [];
  return Object.entries(integrations)
    .filter(([, entry]) => isRecord(entry) && entry['webhookSecrets'] !== undefined)
    .map(([name]) => ({ path: `integrations.${name}.webhookSecrets`, instead: `integrations.${name}.webhooks.secrets` }));
}

/**
 * Entries that declare both inbound paths but nothing to join them on: a webhook delivery is
 * deduplicated against a polled item only by the event id (`eventIdFrom` beside the poll's `idAt`).
 */
function pollsWithoutEventIds(raw: unknown): string[] {
  const integrations = isRecord(raw) ? raw['integrations'] : undefined;
  if (!isRecord(integrations)) return [];
  return Object.entries(integrations)
    .filter(([, e]) => isRecord(e) && isRecord(e['webhooks']) && e['poll'] !== undefined && e['webhooks']['eventIdFrom'] === undefined)
    .map(([name]) => name);
}

/**
 * A value that fits none of a union's shapes (an mcpServers entry is a stdio or an HTTP server)
 * is said by the shape it came closest to, the one with the fewest issues, not only "Invalid
 * input": `"isolation": "per-user"` on a stdio entry names isolation and its allowed values.
 */
function closestBranches(issues: z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((i) => {
    // A union that says what it takes in its own words (`ordering`) keeps them.
    if (i.code !== 'invalid_union' || i.errors.length === 0 || i.message !== 'Invalid input') return [i];
    const closest = i.errors.reduce((a, b) => (b.length < a.length ? b : a));
    return closestBranches(closest.map((e) => ({ ...e, path: [...i.path, ...e.path] })));
  });
}

/** A bad record key (a reserved or malformed name) says what is wrong with it, not only "Invalid key in record". */
function messageOf(i: z.core.$ZodIssue, raw: unknown): string {
  if (i.code === 'invalid_key' && i.issues.length > 0) return i.issues.map((k) => k.message).join('; ');
  // `"port": "8787"` or `"port": "${PORT}"`: the README says every *string* may use ${ENV}, which a
  // user reads as "every value"; a number or boolean in quotes is said so, not only "received string".
  if (i.code === 'invalid_type' && (i.expected === 'number' || i.expected === 'boolean') && quotedScalar(valueAt(raw, i.path), i.expected))
    return `${i.message} (write the ${i.expected} without quotes: \${ENV} is read in strings only)`;
  return i.message;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let at = raw;
  for (const key of path) at = isRecord(at) || Array.isArray(at) ? (at as Record<PropertyKey, unknown>)[key] : undefined;
  return at;
}

function quotedScalar(value: unknown, expected: string): boolean {
  if (typeof value !== 'string') return false;
  return expected === 'number' ? value.trim() !== '' && Number.isFinite(Number(value)) : value === 'true' || value === 'false';
}

function formatIssues(issues: z.core.$ZodIssue[], raw: unknown): string {
  return issues
    .map((i) => {
      const path = i.path.map(String).join('.');
      if (i.code === 'unrecognized_keys') {
        const keys = i.keys.map((k) => (path ? `${path}.${k}` : k));
        return `unknown key${keys.length > 1 ? 's' : ''} ${keys.join(', ')}`;
      }
      return `${path || '(root)'}: ${messageOf(i, raw)}`;
    })
    .join('; ');
}

/** The file's text; a folder or an unreadable file is a config error naming it, not a bare EISDIR or EACCES. */
function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EISDIR' ? 'is a folder, not a file' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code ?? String(err)})`;
    throw new HubError('config_invalid', `config file ${file} ${why}`, { details: { file } });
  }
}
