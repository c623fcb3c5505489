/**
 * Caps on what the sandbox agents keep in memory. They answer anyone holding the public sandbox
 * keys, so every list or map a request can add to has a size limit, the oldest entries going
 * first.
 */

/** Sets `key` as the newest entry of `map` (a Map keeps insertion order), then drops the oldest past `max`. */
export function keepAtMost<K, V>(map: Map<K, V>, max: number, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= max) break;
    map.delete(oldest);
  }
}

/** Appends to `list` and keeps only its last `max` items: a ring of the latest. */
export function pushAtMost<T>(list: T[], max: number, item: T): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

/**
 * `value` when its JSON is at most `maxChars` long, else a note of its size: the diagnostics show
 * what a request carried without keeping a 256 KB body for each of the last hundred.
 */
export function small<T>(value: T, maxChars = 4_096): T | { omitted: string } {
  const size = JSON.stringify(value ?? null).length;
  return size <= maxChars ? value : { omitted: `${size} characters of JSON` };
}

/** Text cut to `max` characters, marked when cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
