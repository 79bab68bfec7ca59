/**
 * Credentials that change while the process runs, asked for before every request: a bearer token
 * file (kubeconfig `tokenFile`; in a pod, the ServiceAccount token the kubelet rewrites about
 * hourly) re-read at most once per refresh period, and an exec credential plugin re-run when its
 * credential expires. Either is refreshed at once when the API server answers 401 (KubeClient asks).
 */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";

/** What one request authenticates with. */
export interface AuthMaterial {
  token?: string;
  /** A client certificate and key (PEM), as an exec plugin may return them. */
  cert?: string;
  key?: string;
}

/** A source of current credentials; KubeClient asks it before every request. */
export interface CredentialSource {
  /** The material to use now: cached until due for a refresh, one refresh at a time. */
  current(): Promise<AuthMaterial>;
  /** After a 401: forgets `used` if it is still the cached material, so the next call refreshes. */
  invalidate(used: AuthMaterial): void;
}

/** A credential could not be obtained (unreadable token file, failing exec plugin). */
export class CredentialsError extends Error {
  override readonly name = "CredentialsError";
}

interface Fetched {
  material: AuthMaterial;
  /** Epoch ms after which the material is fetched again. */
  expiresAt: number;
}

/** Caches what `fetch` returns until its expiry; concurrent callers share one fetch. */
class CachedSource implements CredentialSource {
  private cached?: Fetched;
  private inflight?: Promise<Fetched>;

  constructor(
    private readonly fetch: (previous: AuthMaterial | undefined) => Promise<Fetched>,
    private readonly now: () => number,
  ) {}

  async current(): Promise<AuthMaterial> {
    const cached = this.cached;
    if (cached && this.now() < cached.expiresAt) return cached.material;
    this.inflight ??= this.fetch(cached?.material)
      .then((f) => (this.cached = f))
      .finally(() => (this.inflight = undefined));
    return (await this.inflight).material;
  }

  invalidate(used: AuthMaterial): void {
    // Many requests can fail with the same stale token at once: only the first forces a refresh.
    if (this.cached?.material === used) this.cached = undefined;
  }
}

/** Options shared by the sources. */
export interface SourceOptions {
  /** The kubeconfig user, named in errors. */
  user: string;
  now?: () => number;
}

/**
 * A token read from `file`, re-read once `refreshMs` (default 60 s, as client-go) has passed or
 * after a 401. A read that fails or finds the file empty (caught mid-rewrite) keeps the last good
 * token for a second; without one it is an error naming the file and the kubeconfig user.
 */
export function tokenFileSource(file: string, options: SourceOptions & { refreshMs?: number }): CredentialSource {
  const now = options.now ?? Date.now;
  const refreshMs = options.refreshMs ?? 60_000;
  return new CachedSource(async (previous) => {
    let token = "";
    let why = "it is empty";
    try {
      token = (await fs.readFile(file, "utf8")).trim();
    } catch (err) {
      why = (err as Error).message;
    }
    if (token) return { material: { token }, expiresAt: now() + refreshMs };
    if (previous) return { material: previous, expiresAt: now() + 1_000 };
    throw new CredentialsError(`cannot read the bearer token file ${file} of kubeconfig user "${options.user}": ${why}`);
  }, now);
}

/** Material from `fetch`, fetched again once `refreshMs` (default 60 s) has passed or after a 401. */
export function periodicSource(fetch: () => Promise<AuthMaterial>, options: { refreshMs?: number; now?: () => number } = {}): CredentialSource {
  const now = options.now ?? Date.now;
  return new CachedSource(async () => ({ material: await fetch(), expiresAt: now() + (options.refreshMs ?? 60_000) }), now);
}

/** The `exec` stanza of a kubeconfig user (client.authentication.k8s.io). */
export interface ExecConfig {
  command: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  apiVersion?: string;
  interactiveMode?: string;
  provideClusterInfo?: boolean;
}

interface ExecCredential {
  apiVersion?: string;
  kind?: string;
  status?: { token?: string; clientCertificateData?: string; clientKeyData?: string; expirationTimestamp?: string };
}

/**
 * Runs an exec credential plugin (as kubectl does, never interactively) and caches its credential
 * until its `expirationTimestamp`, or until a 401 when it has none. A relative command with a
 * slash is resolved against the kubeconfig's directory.
 */
export function execSource(
  exec: ExecConfig,
  options: SourceOptions & { dir: string; cluster?: Record<string, unknown>; timeoutMs?: number },
): CredentialSource {
  const now = options.now ?? Date.now;
  const fail = (why: string) => new CredentialsError(`exec credential plugin "${exec.command}" of kubeconfig user "${options.user}": ${why}`);
  return new CachedSource(async () => {
    if (exec.interactiveMode === "Always") throw fail("interactiveMode is Always, but this program never has a terminal to offer; use a plugin that runs unattended");
    const command = exec.command.includes("/") ? path.resolve(options.dir, exec.command) : exec.command;
    const info = { apiVersion: exec.apiVersion, kind: "ExecCredential", spec: { interactive: false, ...(exec.provideClusterInfo && options.cluster ? { cluster: options.cluster } : {}) } };
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
    for (const e of exec.env ?? []) env[e.name] = e.value;
    const stdout = await run(command, exec.args ?? [], env, options.timeoutMs ?? 60_000).catch((err: Error) => {
      throw fail(err.message);
    });
    let cred: ExecCredential;
    try {
      cred = JSON.parse(stdout) as ExecCredential;
    } catch {
      throw fail(`its output is not an ExecCredential (JSON): ${stdout.slice(0, 200)}`);
    }
    if (cred.kind !== "ExecCredential") throw fail(`its output has kind ${String(cred.kind)}, want ExecCredential`);
    if (exec.apiVersion && cred.apiVersion !== exec.apiVersion) throw fail(`its output has apiVersion ${String(cred.apiVersion)}, want ${exec.apiVersion} (the kubeconfig's exec.apiVersion)`);
    const status = cred.status ?? {};
    const material: AuthMaterial = { token: status.token || undefined, cert: status.clientCertificateData || undefined, key: status.clientKeyData || undefined };
    if (!material.token && !(material.cert && material.key)) throw fail("its ExecCredential has neither status.token nor status.clientCertificateData and status.clientKeyData");
    const expiresAt = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Infinity;
    if (Number.isNaN(expiresAt)) throw fail(`its status.expirationTimestamp "${status.expirationTimestamp}" is not a timestamp`);
    return { material, expiresAt };
  }, now);
}

/** Runs a command without a terminal; its stdout, or an error with its exit status and stderr. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${signal ? `killed by ${signal}${signal === "SIGTERM" ? ` (no answer within ${timeoutMs} ms?)` : ""}` : `exited with ${code}`}: ${err.trim() || "(no stderr)"}`));
    });
  });
}
