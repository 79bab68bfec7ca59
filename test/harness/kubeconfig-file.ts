/**
 * Writes kubeconfig files for the local control plane (admin certificate or a bearer token).
 */
import fs from "node:fs";
import YAML from "yaml";

/**
 * Credentials of one kubeconfig user: a client certificate, a token, a token file (`tokenFile`,
 * relative to the kubeconfig's directory or absolute) or an exec plugin stanza.
 */
export type KubeconfigUser =
  | { clientCertificate: string; clientKey: string }
  | { token: string }
  | { tokenFile: string }
  | { exec: { apiVersion: string; command: string; args?: string[]; env?: { name: string; value: string }[] } };

/** Extra fields of the kubeconfig's cluster entry, e.g. `tls-server-name` or `proxy-url`. */
export type KubeconfigClusterExtras = Record<string, string | boolean>;

/** Writes a single-context kubeconfig to `file` and returns the path. */
export function writeKubeconfig(
  file: string, server: string, caFile: string, user: KubeconfigUser, name = "local", clusterExtras: KubeconfigClusterExtras = {},
): string {
  const userEntry =
    "clientCertificate" in user
      ? { "client-certificate-data": b64(user.clientCertificate), "client-key-data": b64(user.clientKey) }
      : user;
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server, "certificate-authority-data": b64(caFile), ...clusterExtras } }],
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
