/**
 * ServiceAccount tokens that can be revoked on demand: each is minted with the TokenRequest API
 * bound to a fresh Secret, and deleting that Secret invalidates it (as rotation in a pod does
 * once the old projected token expires), for tests of credential rotation.
 */
import { KubeClient } from "../../src/kube/client.js";
import { ApiError } from "../../src/kube/errors.js";
import { eventually } from "./eventually.js";

const SECRETS = { group: "", version: "v1", plural: "secrets", namespaced: true, kind: "Secret" } as const;

/** A bound token and how to revoke it. */
export interface BoundToken {
  token: string;
  /** Deletes the bound Secret and waits until the API server refuses the token. */
  revoke(): Promise<void>;
}

/** Mints a token of ServiceAccount `namespace/name` bound to a new Secret `secret` (which must not exist). */
export async function boundServiceAccountToken(admin: KubeClient, namespace: string, name: string, secret: string): Promise<BoundToken> {
  const s = await admin.create(SECRETS, { apiVersion: "v1", kind: "Secret", metadata: { name: secret, namespace } });
  const tr = await admin.request<{ status: { token: string } }>("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    body: {
      apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest",
      spec: { expirationSeconds: 3600, boundObjectRef: { kind: "Secret", apiVersion: "v1", name: secret, uid: s.metadata.uid } },
    },
  });
  const token = tr.status.token;
  return {
    token,
    revoke: async () => {
      await admin.delete(SECRETS, secret, namespace);
      // The API server caches successful token checks for a few seconds: wait until it refuses.
      const probe = new KubeClient({ server: admin.config.server, ca: admin.config.ca, token, retries: 0 });
      try {
        await eventually(async () => {
          try {
            await probe.request("GET", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}`);
            return false;
          } catch (err) {
            return err instanceof ApiError && err.code === 401;
          }
        }, { timeoutMs: 45_000, message: `the token bound to Secret ${namespace}/${secret} is refused` });
      } finally {
        probe.close();
      }
    },
  };
}
