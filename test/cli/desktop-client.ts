import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export interface DesktopEntry {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/**
 * Starts a server entry the way Claude Desktop does (the 1.x SDK client, working directory `/`),
 * lists tools once and closes. Returns the tool names and what the server wrote on stderr.
 */
export async function listToolsLikeDesktop(entry: DesktopEntry, env: Record<string, string>): Promise<{ tools: string[]; stderr: string }> {
  const transport = new StdioClientTransport({
    command: entry.command,
    args: entry.args,
    cwd: '/',
    env: { ...(process.env as Record<string, string>), ...entry.env, ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const client = new Client({ name: 'claude-desktop-like', version: '1.0.0' });
  try {
    await client.connect(transport);
    const { tools } = await client.listTools();
    return { tools: tools.map((t) => t.name), stderr };
  } catch (err) {
    throw new Error(`${(err as Error).message}\nserver stderr:\n${stderr}`);
  } finally {
    await client.close();
  }
}
