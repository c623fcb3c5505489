import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/hub.js';
import { createToken, serve, type ServeProcess } from '../oauth/support.js';

/** Two `serve` processes on one SQLite data dir, as two replicas, with a token each for alice and bob. */
export interface ServePair {
  /** The config file and the data dir both processes use, for a third one. */
  config: string;
  data: string;
  a: ServeProcess;
  b: ServeProcess;
  alice: string;
  bob: string;
  stop: () => Promise<void>;
}

/** Writes `config` beside a fresh data dir, makes the two tokens with the CLI, then starts both processes. */
export async function startServePair(config: Record<string, unknown>): Promise<ServePair> {
  const dir = tmpDir();
  const file = join(dir.path, 'switchboard.config.json');
  writeFileSync(file, JSON.stringify(config));
  const data = join(dir.path, 'data');
  mkdirSync(data);
  const alice = await createToken(file, data, 'alice');
  const bob = await createToken(file, data, 'bob');
  const a = await serve(file, data);
  const b = await serve(file, data);
  return {
    config: file,
    data,
    a,
    b,
    alice,
    bob,
    stop: async () => {
      await a.kill();
      await b.kill();
      dir.remove();
    },
  };
}
