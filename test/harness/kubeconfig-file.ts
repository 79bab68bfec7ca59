/**
 * Writes kubeconfig files for the local control plane (admin certificate or a bearer token).
 */
import fs from "node:fs";
import YAML from "yaml";

/** Credentials of one kubeconfig user. */
export type KubeconfigUser = { clientCertificate: string; clientKey: string } | { token: string };

/** Writes a single-context kubeconfig to `file` and returns the path. */
export function writeKubeconfig(file: string, server: string, caFile: string, user: KubeconfigUser, name = "local"): string {
  const userEntry =
    "token" in user
      ? { token: user.token }
      : { "client-certificate-data": b64(user.clientCertificate), "client-key-data": b64(user.clientKey) };
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server, "certificate-authority-data": b64(caFile) } }],
    users: [{ name, user: userEntry }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    "current-context": name,
  };
  fs.writeFileSync(file, YAML.stringify(doc), { mode: 0o600 });
  return file;
}

function b64(file: string): string {
  return fs.readFileSync(file).toString("base64");
}
