/**
 * The text without a leading byte-order mark, which some senders (.NET's, PowerShell's) write
 * before JSON: RFC 8259 §8.1 lets a reader ignore it, as body-parser does on /mcp. A signature is
 * checked on the bytes with it; only reading a delivery's JSON skips it.
 */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
