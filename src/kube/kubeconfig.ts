/**
 * Turns a kubeconfig (file, $KUBECONFIG, or in-cluster service account) into a ClientConfig.
 */
import type https from "node:https";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient, type ClientConfig } from "./client.js";

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
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const headers = (opts.headers ?? {}) as Record<string, string>;
  const auth = headers.Authorization ?? headers.authorization;
  const token = auth?.startsWith("Bearer ") ? auth.slice(7) : undefined;
  return {
    server: cluster.server,
    ca: opts.ca as string | Buffer | undefined,
    cert: opts.cert as string | Buffer | undefined,
    key: opts.key as string | Buffer | undefined,
    token,
    insecureSkipTLSVerify: cluster.skipTLSVerify,
    ...extra,
  };
}

/** A client for a kubeconfig source. */
export async function clientFromKubeconfig(source: KubeconfigSource = {}, extra: Partial<ClientConfig> = {}): Promise<KubeClient> {
  return new KubeClient(await loadClientConfig(source, extra));
}
