/**
 * A provider's text cut for an error, a log line or a stored reason: at most `max` UTF-16 code
 * units, never ending between the two halves of a surrogate pair. `slice` alone could keep a lone
 * high surrogate (an emoji cut in two), which JSON writes as `\ud83d` and a UTF-8 encoder as U+FFFD:
 * a client or a validator reading the error then meets text that is no longer well formed.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = max > 0 && isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end);
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

/** Text on one line, its runs of whitespace (line breaks too) as single spaces, trimmed. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
