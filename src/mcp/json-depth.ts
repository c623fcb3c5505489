/**
 * How deep a message's JSON may nest. Node's JSON.parse takes any depth, but JSON.stringify (and
 * every recursive walk after it: schema checks, structured clones) overflows the stack somewhere
 * past a few thousand levels, so a 20 KB argument of nested arrays failed mid-call as if its
 * downstream server had. No real tool input comes near this.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * Whether the JSON text nests deeper than `max` arrays and objects. A text shorter than `max`
 * cannot, so the small messages of the hot path are not scanned; a longer one is read once,
 * brackets inside strings not counted.
 */
export function nestsTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  if (text.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

export const TOO_DEEP_MESSAGE = `Invalid Request: the JSON nests deeper than ${MAX_JSON_DEPTH} levels`;
