/**
 * The media type of a Content-Type, lowercased (RFC 9110 §8.3.1: type and subtype are
 * case-insensitive); undefined when there is none or the header is malformed enough to hold a
 * list. The SDK parses it with the `content-type` package first; for a well-formed header the two agree.
 */
export function mediaType(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const essence = (header.split(';', 1)[0] ?? '').trim().toLowerCase();
  if (essence === '' || header.slice(essence.length).includes(',')) return undefined;
  return essence;
}
