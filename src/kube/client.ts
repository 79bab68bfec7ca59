/**
 * A small dynamic Kubernetes REST client over node:https with keep-alive: JSON in and out,
 * paged lists, watches, dry-run, metadata-only lists. Every layer talks to the API through it.
 */
import https from "node:https";
import http from "node:http";
import { retry } from "./backoff.js";
import type { AuthMaterial, CredentialSource } from "./credentials.js";
import { ApiError, isRetryable, TransportError, type StatusBody } from "./errors.js";
import { collectionPath, objectPath, type ResourceRef } from "./resource.js";
import { createAgent, retireAgent } from "./transport.js";
import { WatchLines } from "./watch-lines.js";
import type { KubeList, KubeObject, WatchEvent } from "./object.js";

/** How to reach and authenticate to one API server. */
export interface ClientConfig {
  server: string;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** A bearer token fixed for the client's life; `credentials` wins when it yields one. */
  token?: string;
  /**
   * Credentials asked for before every request (token files, exec plugins); on a 401 they are
   * refreshed and the request is sent once more.
   */
  credentials?: CredentialSource;
  insecureSkipTLSVerify?: boolean;
  /** The name the server's certificate is checked against and sent as SNI (kubeconfig `tls-server-name`). */
  tlsServerName?: string;
  /** An http:// proxy the connections are tunnelled through with CONNECT (kubeconfig `proxy-url`). */
  proxyUrl?: string;
  /** Extra headers on every request (e.g. impersonation). */
  headers?: Record<string, string>;
  /** Most sockets kept open to the server; bounds request concurrency. */
  maxSockets?: number;
  /** Per-request timeout for non-watch requests. */
  timeoutMs?: number;
  userAgent?: string;
  /**
   * Attempts after a transient failure of a non-watch request (429, 5xx, server timeouts, a reset
   * or refused connection; not our own request timeout), with jittered backoff from 100 ms and
   * Retry-After honoured. A write the server applied before its answer was lost then meets its
   * own precondition (409 Conflict or AlreadyExists), which callers already handle. Default 4; 0 disables.
   */
  retries?: number;
}

/** Options of one request. */
export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Options of a list call. */
export interface ListOptions {
  namespace?: string;
  limit?: number;
  continue?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  /** Ask for PartialObjectMetadataList: names, uids, owner references; never object contents. */
  metadataOnly?: boolean;
  signal?: AbortSignal;
}

/** Options of create/update/patch. */
export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  subresource?: string;
  signal?: AbortSignal;
}

const METADATA_ACCEPT =
  "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json;as=PartialObjectMetadataList;v=v1beta1;g=meta.k8s.io,application/json";

/** A dynamic client for one API server; counts the requests it makes. */
export class KubeClient {
  private readonly agent: http.Agent;
  /** The agent for a client certificate from `credentials` (an exec plugin), rebuilt when it changes. */
  private certAgent?: { cert: string; key: string; agent: http.Agent };
  private readonly url: URL;
  private requests = 0;

  constructor(readonly config: ClientConfig) {
    this.url = new URL(config.server);
    this.agent = createAgent(this.url, config);
  }

  /** How many HTTP requests this client has sent. */
  get requestCount(): number {
    return this.requests;
  }

  /** A client for the same server with other credentials or headers. */
  with(overrides: Partial<ClientConfig>): KubeClient {
    return new KubeClient({ ...this.config, ...overrides });
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agent.destroy();
    this.certAgent?.agent.destroy();
  }

  /** Sends one request and parses the JSON answer; non-2xx answers throw ApiError. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const text = await this.exchange(method, path, options);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  /** Sends one request and returns the body as text (health endpoints, logs). */
  async requestText(method: string, path: string, options: RequestOptions = {}): Promise<string> {
    return this.exchange(method, path, { accept: "*/*", ...options });
  }

  /** One request with the transient-failure retries of `ClientConfig.retries`; the body as text. */
  private exchange(method: string, path: string, options: RequestOptions): Promise<string> {
    const once = async () => {
      const res = await this.open(method, path, options, false);
      const text = await readBody(res, options.signal, method, path);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw toApiError(status, text, method, path);
      return text;
    };
    const retries = this.config.retries ?? 4;
    if (retries <= 0) return once();
    return retry(once, {
      steps: retries + 1,
      baseMs: 100,
      maxMs: 2_000,
      jitter: 0.5,
      signal: options.signal,
      retryable: (err) => isRetryable(err) && !(err instanceof TransportError && err.cause instanceof RequestTimeout),
    });
  }

  /** GET one object. */
  get<T extends KubeObject = KubeObject>(ref: ResourceRef, name: string, namespace?: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", objectPath(ref, name, namespace), { signal });
  }

  /** One page of a list. */
  list<T extends KubeObject = KubeObject>(ref: ResourceRef, options: ListOptions = {}): Promise<KubeList<T>> {
    return this.request<KubeList<T>>("GET", collectionPath(ref, options.namespace), {
      query: {
        limit: options.limit,
        continue: options.continue,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        resourceVersion: options.resourceVersion,
      },
      accept: options.metadataOnly ? METADATA_ACCEPT : undefined,
      signal: options.signal,
    });
  }

  /** Every page of a list, one at a time (memory bounded by the page size). */
  async *listPages<T extends KubeObject = KubeObject>(ref: ResourceRef, options: ListOptions = {}): AsyncGenerator<KubeList<T>> {
    let token: string | undefined;
    const limit = options.limit ?? 500;
    do {
      const page = await this.list<T>(ref, { ...options, limit, continue: token });
      page.items ??= [];
      yield page;
      token = page.metadata.continue || undefined;
    } while (token);
  }

  /** Every object of a list, paged underneath. */
  async *listItems<T extends KubeObject = KubeObject>(ref: ResourceRef, options: ListOptions = {}): AsyncGenerator<T> {
    for await (const page of this.listPages<T>(ref, options)) yield* page.items;
  }

  /** All objects of a list collected into an array (only for lists known to be small). */
  async listAll<T extends KubeObject = KubeObject>(ref: ResourceRef, options: ListOptions = {}): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this.listItems<T>(ref, options)) out.push(item);
    return out;
  }

  /** POST a new object. */
  create<T extends KubeObject = KubeObject>(ref: ResourceRef, obj: KubeObject, options: WriteOptions = {}): Promise<T> {
    return this.request<T>("POST", collectionPath(ref, obj.metadata.namespace), {
      body: obj,
      query: writeQuery(options),
      signal: options.signal,
    });
  }

  /** PUT an object (or its subresource, e.g. status); carries metadata.resourceVersion as precondition. */
  update<T extends KubeObject = KubeObject>(ref: ResourceRef, obj: KubeObject, options: WriteOptions = {}): Promise<T> {
    const name = obj.metadata.name ?? "";
    return this.request<T>("PUT", objectPath(ref, name, obj.metadata.namespace, options.subresource), {
      body: obj,
      query: writeQuery(options),
      signal: options.signal,
    });
  }

  /** PATCH an object: `merge` (JSON merge patch), `json` (JSON patch) or `apply` (server-side apply). */
  patch<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    name: string,
    body: unknown,
    type: "merge" | "json" | "strategic" | "apply",
    namespace?: string,
    options: WriteOptions & { force?: boolean } = {},
  ): Promise<T> {
    const contentType = {
      merge: "application/merge-patch+json",
      json: "application/json-patch+json",
      strategic: "application/strategic-merge-patch+json",
      apply: "application/apply-patch+yaml",
    }[type];
    return this.request<T>("PATCH", objectPath(ref, name, namespace, options.subresource), {
      body,
      contentType,
      query: { ...writeQuery(options), force: options.force },
      signal: options.signal,
    });
  }

  /** DELETE an object, optionally only if its uid or resourceVersion still matches. */
  delete(
    ref: ResourceRef,
    name: string,
    namespace?: string,
    options: { uid?: string; resourceVersion?: string; propagationPolicy?: string; dryRun?: boolean; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    const preconditions =
      options.uid || options.resourceVersion ? { uid: options.uid, resourceVersion: options.resourceVersion } : undefined;
    return this.request("DELETE", objectPath(ref, name, namespace), {
      body: { apiVersion: "v1", kind: "DeleteOptions", preconditions, propagationPolicy: options.propagationPolicy },
      query: { dryRun: options.dryRun ? "All" : undefined },
      signal: options.signal,
    });
  }

  /**
   * Watches a collection from a resourceVersion; yields events until the server closes the stream
   * or the signal aborts. An ERROR event (e.g. 410 Gone) is thrown as ApiError.
   */
  async *watch<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    options: { namespace?: string; resourceVersion?: string; fieldSelector?: string; labelSelector?: string; signal?: AbortSignal; timeoutSeconds?: number },
  ): AsyncGenerator<WatchEvent<T>> {
    const path = collectionPath(ref, options.namespace);
    const res = await this.open(
      "GET",
      path,
      {
        query: {
          watch: "true",
          allowWatchBookmarks: "true",
          resourceVersion: options.resourceVersion,
          fieldSelector: options.fieldSelector,
          labelSelector: options.labelSelector,
          timeoutSeconds: options.timeoutSeconds,
        },
        signal: options.signal,
      },
      true,
    );
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw toApiError(status, await readBody(res, options.signal), "GET", path);
    const frames = new WatchLines();
    try {
      for await (const chunk of res) {
        for (const line of frames.push(chunk as Buffer)) {
          const event = JSON.parse(line) as WatchEvent<T>;
          if (event.type === "ERROR") {
            const st = event.object as unknown as StatusBody;
            throw new ApiError(st.code ?? 500, st.reason ?? "Unknown", st.message ?? "watch error", "GET", path, st);
          }
          yield event;
        }
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      if (err instanceof ApiError) throw err;
      throw new TransportError(`watch ${path}: ${(err as Error).message}`, "GET", path, { cause: err });
    } finally {
      res.destroy();
    }
  }

  /**
   * Sends a request with the current credentials. A 401 means they may have been rotated under
   * us (a projected ServiceAccount token, an expired exec credential): refresh them and send once
   * more; a second 401 is the caller's answer. Nothing was applied, so even a write is safe to resend.
   */
  private async open(method: string, path: string, options: RequestOptions, streaming: boolean): Promise<http.IncomingMessage> {
    const credentials = this.config.credentials;
    const auth = credentials ? await credentials.current() : {};
    const res = await this.send(method, path, options, streaming, auth);
    if (res.statusCode !== 401 || !credentials) return res;
    res.resume();
    credentials.invalidate(auth);
    return this.send(method, path, options, streaming, await credentials.current());
  }

  /** The agent for this request: the shared one, or the one for an exec plugin's client certificate. */
  private agentFor(auth: AuthMaterial): http.Agent {
    if (!auth.cert || !auth.key) return this.agent;
    if (this.certAgent?.cert !== auth.cert || this.certAgent.key !== auth.key) {
      if (this.certAgent) retireAgent(this.certAgent.agent);
      this.certAgent = { cert: auth.cert, key: auth.key, agent: createAgent(this.url, { ...this.config, cert: auth.cert, key: auth.key }) };
    }
    return this.certAgent.agent;
  }

  private send(method: string, path: string, options: RequestOptions, streaming: boolean, auth: AuthMaterial): Promise<http.IncomingMessage> {
    this.requests++;
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined && v !== "") query.set(k, String(v));
    const qs = query.toString();
    const fullPath = (this.url.pathname.replace(/\/$/, "") + path) + (qs ? `?${qs}` : "");
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string | number> = {
      Accept: options.accept ?? "application/json",
      "User-Agent": this.config.userAgent ?? "calico-datastore-migration",
      ...this.config.headers,
    };
    const token = auth.token ?? this.config.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body) {
      headers["Content-Type"] = options.contentType ?? "application/json";
      headers["Content-Length"] = body.length;
    }
    const mod = this.url.protocol === "http:" ? http : https;
    const timeoutMs = streaming ? 0 : (options.timeoutMs ?? this.config.timeoutMs ?? 60_000);
    return new Promise((resolve, reject) => {
      const req = mod.request(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          method,
          path: fullPath,
          headers,
          agent: this.agentFor(auth),
          signal: options.signal,
        },
        resolve,
      );
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () => req.destroy(new RequestTimeout(`timed out after ${timeoutMs} ms`)));
      }
      req.on("error", (err) => {
        if (options.signal?.aborted) reject(options.signal.reason instanceof Error ? options.signal.reason : err);
        else reject(new TransportError(`${method} ${path}: ${err.message}`, method, path, { cause: err }));
      });
      req.end(body);
    });
  }
}

/** Our own per-request timeout fired (not retried: the request already waited its full time). */
class RequestTimeout extends Error {
  override readonly name = "RequestTimeout";
}

function writeQuery(options: WriteOptions): Record<string, string | undefined> {
  return { dryRun: options.dryRun ? "All" : undefined, fieldManager: options.fieldManager };
}

async function readBody(res: http.IncomingMessage, signal?: AbortSignal, method = "", path = ""): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res) chunks.push(chunk as Buffer);
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new TransportError(`${method} ${path}: reading response: ${(err as Error).message}`, method, path, { cause: err });
  }
  return Buffer.concat(chunks).toString("utf8");
}

function toApiError(code: number, text: string, method: string, path: string): ApiError {
  let status: StatusBody | undefined;
  try {
    status = JSON.parse(text) as StatusBody;
  } catch {
    status = undefined;
  }
  const reason = status?.reason ?? httpReason(code);
  const message = status?.message ?? (text.trim() || `${method} ${path}: HTTP ${code}`);
  return new ApiError(code, reason, message, method, path, status);
}

function httpReason(code: number): string {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "Unknown";
  }
}
