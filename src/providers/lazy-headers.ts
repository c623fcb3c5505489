/**
 * A response's headers as given, turned into a Headers only when someone reads them so: most
 * readers of an agent's or a downstream's answer look at its status, its body and at most its
 * content type, and building Headers (each name and value checked) cost a call more than that.
 */
export class LazyHeaders {
  #given: HeadersInit | undefined;
  #built: Headers | undefined;

  constructor(given: HeadersInit | undefined) {
    this.#given = given;
  }

  get headers(): Headers {
    if (this.#built === undefined) {
      this.#built = new Headers(this.#given);
      this.#given = undefined;
    }
    return this.#built;
  }

  /** One header's value (lower-case `name`), read from given pairs without building Headers; repeats joined as Headers.get joins them. */
  get(name: string): string | null {
    const given = this.#given;
    if (!Array.isArray(given)) return this.headers.get(name);
    let value: string | null = null;
    for (const [k, v] of given as ReadonlyArray<readonly [string, string]>)
      if (k.length === name.length && k.toLowerCase() === name) value = value === null ? v : `${value}, ${v}`;
    return value;
  }
}
