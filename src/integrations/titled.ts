/**
 * An error's words under the integration's title, as a caller reads them: "GitHub: …". The
 * provider client already names the title in its own words ("GitHub redirected …"), which are
 * not prefixed twice.
 */
export function titled(title: string, message: string): string {
  return message.startsWith(`${title} `) || message.startsWith(`${title}:`) ? message : `${title}: ${message}`;
}
