import { beforeEach, describe, expect, it } from 'vitest';
import type { SecretStore } from '../../../src/store/hub-secrets.js';

/** Two handles on one store stand for two processes sharing it. */
export interface SecretsHarness {
  a: SecretStore;
  b: SecretStore;
}

export function secretStoreContract(name: string, make: () => SecretsHarness | Promise<SecretsHarness>): void {
  describe(`SecretStore contract: ${name}`, () => {
    let h: SecretsHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('creates a secret of the asked size on first use and returns the same one after', async () => {
      const first = await h.a.secret('link_signing_key');
      expect(first).toHaveLength(32);
      expect((await h.a.secret('link_signing_key')).equals(first)).toBe(true);
      expect(await h.a.secret('short', 16)).toHaveLength(16);
      expect((await h.a.secret('other')).equals(first)).toBe(false);
    });

    it('two processes asking at once agree on one secret', async () => {
      const [x, y] = await Promise.all([h.a.secret('request_state_key'), h.b.secret('request_state_key')]);
      expect(x.equals(y)).toBe(true);
    });
  });
}
