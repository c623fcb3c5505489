import { afterAll, beforeAll, describe } from 'vitest';
import { CLIENT_KINDS, connectClient, faceBehaviour, type FaceClient } from '../helpers/clients.js';
import { fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';

describe('HTTP face with real clients', () => {
  let h: RunningHub;
  beforeAll(async () => {
    h = await startHub({ mcpServers: { fx: fixtureStdio({ FIXTURE_TOOLS: '300' }) } });
  });
  afterAll(async () => h?.stop());

  for (const kind of CLIENT_KINDS) {
    describe(kind, () => {
      let c: FaceClient;
      beforeAll(async () => {
        c = await connectClient(kind, { transport: 'http', url: h.url, token: h.token });
      });
      afterAll(async () => c?.close());
      faceBehaviour(() => c);
    });
  }
});
