/**
 * @module
 * A tagged template that HTML-escapes every interpolated value unless it is wrapped in `SafeHtml`
 * (produced only by this template or by `trustedHtml` for markup we generate ourselves, such as
 * vega's SVG). User-supplied strings can therefore never become markup by accident.
 */

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);
}

/** Marks markup produced by our own code (never user input) as safe to embed. */
export function trustedHtml(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

type Fragment = SafeHtml | string | number | boolean | null | undefined | readonly Fragment[];

function render(fragment: Fragment): string {
  if (fragment instanceof SafeHtml) return fragment.value;
  if (Array.isArray(fragment)) return fragment.map(render).join('');
  if (fragment === null || fragment === undefined || fragment === false) return '';
  return escapeHtml(String(fragment));
}

export function html(strings: TemplateStringsArray, ...values: Fragment[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}
