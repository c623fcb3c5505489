/**
 * An auto-escaping HTML template: html`<p>${name}</p>` escapes every interpolated value unless it
 * is itself the result of html`…` or explicitly marked with trustedHtml(). Markup is then built
 * only from literals in this codebase, so no user name, integration title or provider message can
 * become markup by forgetting to escape it once.
 */
const MARKUP = Symbol('switchboard.html');

/** A piece of HTML that is already safe to insert: only html`…` and trustedHtml() make one. */
export interface Html {
  readonly [MARKUP]: string;
  toString(): string;
}

/** What may be interpolated: text (escaped), safe HTML (as is), lists of either, or nothing. */
export type HtmlValue = string | number | Html | null | undefined | false | readonly HtmlValue[];

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escapes the five characters that matter in text and in quoted attribute values (HTML Living
 * Standard §13.1.2.3–13.1.2.4). Attributes must be quoted in templates for this to hold.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function markup(s: string): Html {
  return { [MARKUP]: s, toString: () => s };
}

function isHtml(v: unknown): v is Html {
  return typeof v === 'object' && v !== null && MARKUP in v;
}

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (isHtml(v)) return v[MARKUP];
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return markup(out);
}

/** Marks a string as markup without escaping. Only for constants written in this codebase. */
export function trustedHtml(s: string): Html {
  return markup(s);
}
