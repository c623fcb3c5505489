let loading: Promise<typeof import('@modelcontextprotocol/client')> | undefined;

/** The SDK's client package, imported once on first use (it costs start-up time a stdio hub without downstream servers need not pay). */
export function loadClientSdk(): Promise<typeof import('@modelcontextprotocol/client')> {
  loading ??= import('@modelcontextprotocol/client');
  return loading;
}
