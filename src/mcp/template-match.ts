import { UriTemplate } from '@modelcontextprotocol/server';

/** Whether `uri` is one of the URIs an RFC 6570 resource template names; a template written wrong names none. */
export function templateMatches(uriTemplate: string, uri: string): boolean {
  try {
    return new UriTemplate(uriTemplate).match(uri) !== null;
  } catch {
    return false;
  }
}
