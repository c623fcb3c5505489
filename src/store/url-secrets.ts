/** Query parameters of a libpq URL that carry secrets (libpq's `password` and `sslpassword`). */
const SECRET_PARAMS = ['password', 'sslpassword'];

/**
 * A database URL fit to show, and the secrets it held (raw and decoded, for scrubbing messages):
 * the password of its authority and those given as query parameters, which libpq's URL form
 * allows (`postgresql:///db?host=/run/postgresql&user=u&password=…`).
 */
export function urlSecrets(url: string): { safeUrl: string; secrets: string[] } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not a URL we can parse: name none of it, it may hold the password anywhere.
    return { safeUrl: '(unparseable database URL)', secrets: [url] };
  }
  const found: string[] = [];
  if (u.password !== '') {
    found.push(u.password, safeDecode(u.password));
    u.password = '***';
  }
  for (const name of SECRET_PARAMS) {
    for (const value of u.searchParams.getAll(name)) {
      // As written in the URL and as decoded: a message may quote either.
      found.push(value, encodeURIComponent(value));
    }
    if (u.searchParams.has(name)) u.searchParams.set(name, '***');
  }
  if (found.length === 0) return { safeUrl: url, secrets: [] };
  return { safeUrl: u.toString(), secrets: [...new Set(found.filter((s) => s.length > 0))] };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
