import type { CallToolResult } from '@modelcontextprotocol/server';

/**
 * A provider's answer body as the tool result can carry it: text decoded in the charset its
 * Content-Type declares, or bytes (an image, a PDF, an archive) kept as base64, as MCP carries binary
 * content. Decoding every body as UTF-8 replaced an image's bytes by U+FFFD and misread Latin-1 text.
 */
export type AnswerBody = { kind: 'text'; text: string } | { kind: 'binary'; mimeType: string; bytes: Uint8Array };

/** Media types that are text whatever their top-level type (JSON, XML, YAML, JavaScript, CSV, forms). */
const TEXTUAL = /^text\/|[/+](?:json|xml|yaml|x-yaml|javascript|ecmascript|csv|x-ndjson|x-www-form-urlencoded|graphql)$/;

export function answerBody(contentType: string | null, bytes: Uint8Array): AnswerBody {
  const [essence = '', ...params] = (contentType ?? '').split(';');
  const mimeType = essence.trim().toLowerCase();
  const charset = params.map((p) => /^\s*charset\s*=\s*"?([^"\s]+)"?\s*$/i.exec(p)?.[1]).find((c) => c !== undefined);
  if (mimeType === '' || mimeType === 'application/octet-stream') {
    // Undeclared (or declared only as bytes): text when it is UTF-8, bytes otherwise.
    try {
      return { kind: 'text', text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
    } catch {
      return { kind: 'binary', mimeType: mimeType || 'application/octet-stream', bytes };
    }
  }
  if (!TEXTUAL.test(mimeType)) return { kind: 'binary', mimeType, bytes };
  return { kind: 'text', text: decoderFor(charset).decode(bytes) };
}

/** The WHATWG Encoding Standard's decoder for `charset` (iso-8859-1 reads as windows-1252, as browsers do); UTF-8 when absent or unknown. */
function decoderFor(charset: string | undefined): TextDecoder {
  try {
    return new TextDecoder(charset ?? 'utf-8');
  } catch {
    return new TextDecoder('utf-8');
  }
}

/**
 * Bytes as MCP content: an image or audio block for those types (what MCP clients show or play),
 * any other as an embedded resource's blob with its media type (`uri`: where it came from), after
 * a line the model can read.
 */
export function binaryContent(what: string, uri: string, mimeType: string, bytes: Uint8Array): CallToolResult['content'] {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  const said = { type: 'text' as const, text: `${what}: ${bytes.byteLength} bytes of ${mimeType}` };
  if (mimeType.startsWith('image/')) return [said, { type: 'image', data, mimeType }];
  if (mimeType.startsWith('audio/')) return [said, { type: 'audio', data, mimeType }];
  return [said, { type: 'resource', resource: { uri, mimeType, blob: data } }];
}
