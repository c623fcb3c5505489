/**
 * The query of a response's `rel="next"` link (RFC 8288 `Link` header), as GitHub, GitLab and
 * others page their lists: `<https://api.github.com/…/issues?page=2&per_page=30>; rel="next", <…>; rel="last"`.
 * Only the query is read (what a tool's arguments can say); the link itself is never followed.
 */
export function nextPageQuery(link: string | null): Record<string, string> | undefined {
  if (!link) return undefined;
  for (const m of link.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2] ?? '');
    if (!(rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/).includes('next')) continue;
    if (!URL.canParse(m[1] ?? '', 'http://relative.invalid')) return undefined;
    const query = Object.fromEntries(new URL(m[1] ?? '', 'http://relative.invalid').searchParams);
    return Object.keys(query).length > 0 ? query : undefined;
  }
  return undefined;
}
