/**
 * Turns a kubeconfig (file, $KUBECONFIG, or in-cluster service account) into a ClientConfig whose
 * credentials stay fresh for the life of the process.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KubeConfig, type Cluster, type User } from "@kubernetes/client-node";
import YAML from "yaml";
import { KubeClient, type ClientConfig } from "./client.js";
import { execSource, periodicSource, tokenFileSource, type CredentialSource, type ExecConfig } from "./credentials.js";
import { checkProxyUrl } from "./transport.js";

/** Where to load credentials from; all optional, like kubectl's flags. */
export interface KubeconfigSource {
  kubeconfig?: string;
  context?: string;
}

/** Thrown when no usable kubeconfig or context could be loaded. */
export class KubeconfigError extends Error {
  override readonly name = "KubeconfigError";
}

/**
 * Loads credentials: an explicit file, else $KUBECONFIG / ~/.kube/config, else the in-cluster
 * service account. The context, when given, must exist.
 */
export async function loadClientConfig(source: KubeconfigSource = {}, extra: Partial<ClientConfig> = {}): Promise<ClientConfig> {
  const kc = new KubeConfig();
  try {
    if (source.kubeconfig) kc.loadFromFile(source.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new KubeconfigError(`cannot load kubeconfig ${source.kubeconfig ?? "(default)"}: ${(err as Error).message}`, { cause: err });
  }
  if (source.context) {
    if (!kc.getContextObject(source.context)) {
      throw new KubeconfigError(
        `context "${source.context}" not found in kubeconfig; available: ${kc.getContexts().map((c) => c.name).join(", ") || "none"}`,
      );
    }
    kc.setCurrentContext(source.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new KubeconfigError("no cluster in kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account");
  }
  if (cluster.proxyUrl) {
    try {
      checkProxyUrl(cluster.proxyUrl);
    } catch (err) {
      throw new KubeconfigError(`kubeconfig cluster "${cluster.name}": ${(err as Error).message}`);
    }
  }
  const user = kc.getCurrentUser();
  const credentials = user ? credentialsOf(kc, cluster, user, kubeconfigFiles(source)) : undefined;
  // Fail at start-up, as kubectl does, when the token file or exec plugin cannot give a credential.
  await credentials?.current();
  return {
    server: cluster.server,
    ca: fileOrData(cluster.caFile, cluster.caData),
    cert: fileOrData(user?.certFile, user?.certData),
    key: fileOrData(user?.keyFile, user?.keyData),
    token: user?.token || undefined,
    credentials,
    insecureSkipTLSVerify: cluster.skipTLSVerify,
    tlsServerName: cluster.tlsServerName || undefined,
    proxyUrl: cluster.proxyUrl || undefined,
    ...extra,
  };
}

/** A client for a kubeconfig source. */
export async function clientFromKubeconfig(source: KubeconfigSource = {}, extra: Partial<ClientConfig> = {}): Promise<KubeClient> {
  return new KubeClient(await loadClientConfig(source, extra));
}

/**
 * The user's changing credentials, if any: a token file (kubeconfig `tokenFile`, which client-node
 * does not read, or `token-file`, which it reads once; in a pod the ServiceAccount token), an exec
 * plugin (client-node would re-run one without an expiry on every request), or another auth
 * provider (refreshed by client-node itself, asked again every minute).
 */
function credentialsOf(kc: KubeConfig, cluster: Cluster, user: User, files: string[]): CredentialSource | undefined {
  const raw = rawUser(files, user.name);
  const tokenFile = stringField(raw?.entry, "tokenFile") ?? stringField(raw?.entry, "token-file");
  if (tokenFile) return tokenFileSource(path.resolve(raw?.dir ?? ".", tokenFile), { user: user.name });
  const inCluster = (user.authProvider as { config?: { tokenFile?: string } } | undefined)?.config?.tokenFile;
  if (inCluster) return tokenFileSource(inCluster, { user: user.name });
  if (user.exec) {
    const clusterInfo = { server: cluster.server, "certificate-authority-data": cluster.caData, "tls-server-name": cluster.tlsServerName, "proxy-url": cluster.proxyUrl, "insecure-skip-tls-verify": cluster.skipTLSVerify };
    return execSource(user.exec as ExecConfig, { user: user.name, dir: raw?.dir ?? process.cwd(), cluster: clusterInfo });
  }
  if (!user.authProvider) return undefined;
  return periodicSource(async () => {
    const opts: { headers?: Record<string, string> } = {};
    await kc.applyToHTTPSOptions(opts);
    const auth = opts.headers?.Authorization ?? opts.headers?.authorization;
    return { token: auth?.startsWith("Bearer ") ? auth.slice(7) : undefined };
  });
}

/** The files a kubeconfig source reads, in precedence order (as client-node loads them). */
function kubeconfigFiles(source: KubeconfigSource): string[] {
  if (source.kubeconfig) return [source.kubeconfig];
  const env = process.env.KUBECONFIG;
  if (env) return env.split(path.delimiter).filter(Boolean);
  const home = path.join(os.homedir(), ".kube", "config");
  return fs.existsSync(home) ? [home] : [];
}

/** The raw `user` map of the first file that defines `name`, and that file's directory. */
function rawUser(files: string[], name: string): { entry: Record<string, unknown>; dir: string } | undefined {
  for (const file of files) {
    let doc: { users?: { name?: string; user?: Record<string, unknown> }[] } | undefined;
    try {
      doc = YAML.parse(fs.readFileSync(file, "utf8")) as typeof doc;
    } catch {
      continue; // client-node has loaded what it could; an unreadable extra file defines nobody
    }
    const found = doc?.users?.find((u) => u.name === name);
    if (found) return { entry: found.user ?? {}, dir: path.dirname(path.resolve(file)) };
  }
  return undefined;
}

function stringField(entry: Record<string, unknown> | undefined, key: string): string | undefined {
  const v = entry?.[key];
  return typeof v === "string" && v ? v : undefined;
}

function fileOrData(file: string | undefined | null, data: string | undefined | null): Buffer | undefined {
  if (file) return fs.readFileSync(file);
  return data ? Buffer.from(data, "base64") : undefined;
}
