/**
 * A stand-in for the Calico API server (the fallback of issue 10: Calico's own server cannot be
 * built from the Go module proxy, see docs/architecture.md): an aggregated API server on
 * 127.0.0.1 that serves `projectcalico.org/v3` discovery and get/list/watch/create/update/patch/
 * delete for every migrated kind (and ClusterInformation) from `crd.projectcalico.org/v1`
 * storage, with Calico's encoding: v3 metadata in the `projectcalico.org/metadata` annotation, the
 * v3 uid the bit-reversed v1 uid, the v1 resourceVersion passed through (so preconditions hold
 * against v1). It authenticates kube-apiserver by the front-proxy client certificate and
 * authorizes the forwarded user with a SubjectAccessReview, as a delegating server does.
 * IPAM blocks, handles and block affinities are read-only here, as libcalico's IPAM code owns them.
 */
import type http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { CALICO_KINDS, V1_GROUP, V3_GROUP, type CalicoKind } from "../../src/calico/kinds.js";
import { convertV1ToV3 } from "../../src/convert/convert.js";
import { convertUid } from "../../src/convert/uid.js";
import type { KubeClient } from "../../src/kube/client.js";
import { ApiError, isNotFound, type StatusBody } from "../../src/kube/errors.js";
import type { KubeList, KubeObject } from "../../src/kube/object.js";
import { collectionPath, objectPath, type ResourceRef } from "../../src/kube/resource.js";
import { mergePatch } from "./merge-patch.js";
import { v1FromV3 } from "./v1-writer.js";

/** ClusterInformation is served too (it is the lock, not a migrated kind). */
const CLUSTER_INFORMATION: CalicoKind = {
  kind: "ClusterInformation", v1Kind: "ClusterInformation", v1Plural: "clusterinformations", v3Plural: "clusterinformations",
  namespaced: false, order: 0, converter: "generic", v3Status: false,
};
const SERVED: readonly CalicoKind[] = [...CALICO_KINDS, CLUSTER_INFORMATION];
const READ_ONLY = new Set(["ipamBlock", "ipamHandle", "blockAffinity"]);
const TIERED = new Set(["NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy", "StagedGlobalNetworkPolicy"]);
const PATH = /^\/apis\/projectcalico\.org\/v3(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?$/;

/** How to start the stand-in. */
export interface CalicoApiServerOptions {
  /** Client for v1 storage and SubjectAccessReviews (the server's own credentials). */
  storage: KubeClient;
  cert: string | Buffer;
  key: string | Buffer;
  /** CA that signs kube-apiserver's front-proxy client certificate. */
  requestHeaderCa: string | Buffer;
  /** Port on 127.0.0.1 (0: a free one). */
  port?: number;
}

interface Caller {
  user: string;
  groups: string[];
}

/** One write the stand-in carried out in v1 storage on a caller's behalf. */
export interface CalicoWrite {
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
  user: string;
}

/** Writes kept for the side process's state (the oldest are dropped past this). */
const WRITES_KEPT = 1000;

/** A running stand-in; counts the requests it answered, by verb, and records the writes. */
export class CalicoApiServer {
  readonly served: Record<string, number> = {};
  readonly writes: CalicoWrite[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly sarCache = new Map<string, { allowed: boolean; until: number }>();
  private server!: https.Server;

  private constructor(private readonly options: CalicoApiServerOptions) {}

  /** Starts listening on 127.0.0.1. */
  static async start(options: CalicoApiServerOptions): Promise<CalicoApiServer> {
    const s = new CalicoApiServer(options);
    s.server = https.createServer(
      { cert: options.cert, key: options.key, ca: options.requestHeaderCa, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        // A "not found" answer is logged (the side process's log): who was told an object does not exist.
        res.on("finish", () => {
          if (res.statusCode === 404) console.log(`${new Date().toISOString()} 404 ${req.method} ${req.url} (${userAgent(req)})`);
        });
        void s.handle(req, res).catch((err: unknown) => s.fail(res, err));
      },
    );
    s.server.on("secureConnection", (sock: Socket) => {
      s.sockets.add(sock);
      sock.on("close", () => s.sockets.delete(sock));
    });
    s.server.on("clientError", (_e, sock) => sock.destroy());
    await new Promise<void>((resolve) => s.server.listen(options.port ?? 0, "127.0.0.1", resolve));
    return s;
  }

  /** The port it listens on. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and closes every connection. */
  async stop(): Promise<void> {
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://calico-api");
    const path = url.pathname.replace(/\/$/, "");
    if (["/healthz", "/readyz", "/livez"].includes(path)) return text(res, 200, "ok");
    const caller = this.authenticate(req);
    if (!caller) return status(res, 401, "Unauthorized", "the Calico API server accepts only kube-apiserver's front-proxy client certificate");
    if (path === "/apis") return json(res, 200, { kind: "APIGroupList", apiVersion: "v1", groups: [apiGroup()] });
    if (path === "/apis/projectcalico.org") return json(res, 200, { kind: "APIGroup", apiVersion: "v1", ...apiGroup() });
    if (path === "/apis/projectcalico.org/v3") return json(res, 200, apiResourceList());
    const m = PATH.exec(path);
    const kind = m ? SERVED.find((k) => k.v3Plural === m[2]) : undefined;
    if (!m || !kind) return status(res, 404, "NotFound", "the server could not find the requested resource");
    const namespace = m[1] ? decodeURIComponent(m[1]) : undefined;
    const name = m[3] ? decodeURIComponent(m[3]) : undefined;
    const method = req.method ?? "GET";
    const watch = url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1";
    const verb = verbOf(method, name, watch);
    if (!(await this.authorize(caller, verb, kind, namespace, name))) {
      return status(res, 403, "Forbidden", `${kind.v3Plural}.${V3_GROUP}${name ? ` "${name}"` : ""} is forbidden: User "${caller.user}" cannot ${verb} resource "${kind.v3Plural}" in API group "${V3_GROUP}"${namespace ? ` in the namespace "${namespace}"` : ""}`);
    }
    this.served[verb] = (this.served[verb] ?? 0) + 1;
    // Writes are logged (the side process's log) as they are asked for, and recorded once they are
    // carried out: who changed v1 storage through the aggregated API.
    const write: CalicoWrite = { verb, resource: kind.v3Plural, namespace, name, user: caller.user };
    if (!["get", "list", "watch"].includes(verb)) console.log(`${new Date().toISOString()} ${verb} ${path} by ${caller.user} (${userAgent(req)})`);
    if (READ_ONLY.has(kind.converter) && !["get", "list", "watch"].includes(verb)) {
      return status(res, 405, "MethodNotAllowed", `${kind.kind} is read-only through the Calico API server`);
    }
    const body = ["POST", "PUT", "PATCH", "DELETE"].includes(method) ? await readJson(req) : undefined;
    const ref = v1Ref(kind);
    const query = Object.fromEntries(url.searchParams);
    switch (verb) {
      case "watch":
        return this.watch(res, kind, ref, namespace, query, asPartial(req));
      case "list": {
        const list = await this.options.storage.request<KubeList>("GET", collectionPath(ref, namespace), { query: pick(query, ["limit", "continue", "resourceVersion", "resourceVersionMatch"]) });
        const items = list.items.map((cr) => present(kind, cr));
        if (metadataOnly(req)) return json(res, 200, { apiVersion: "meta.k8s.io/v1", kind: "PartialObjectMetadataList", metadata: list.metadata, items: items.map(partial) });
        return json(res, 200, { apiVersion: `${V3_GROUP}/v3`, kind: `${kind.kind}List`, metadata: list.metadata, items });
      }
      case "get": {
        const obj = present(kind, await this.getV1(kind, ref, name ?? "", namespace));
        return json(res, 200, asPartial(req) ? partial(obj) : obj);
      }
      case "create": {
        const obj = withDefaultTypes(kind, body as KubeObject);
        const cr = v1FromV3({ ...obj, kind: kind.kind, metadata: { ...obj.metadata, namespace } } as never);
        const created = await this.options.storage.request<KubeObject>("POST", collectionPath(ref, namespace), { body: cr, query: pick(query, ["dryRun", "fieldManager"]) });
        if (!query.dryRun) this.recordWrite({ ...write, name: obj.metadata?.name });
        return json(res, 201, present(kind, created));
      }
      case "update":
      case "patch": {
        const current = await this.getV1(kind, ref, name ?? "", namespace);
        let next = body as KubeObject;
        if (verb === "patch") {
          if (!/merge-patch|strategic-merge-patch/.test(req.headers["content-type"] ?? "")) {
            return status(res, 415, "UnsupportedMediaType", "the Calico API server stand-in applies merge patches only");
          }
          next = mergePatch(present(kind, current), body) as KubeObject;
        }
        next = withDefaultTypes(kind, next);
        const cr = v1FromV3({ ...next, kind: kind.kind, metadata: { ...next.metadata, namespace } } as never, { crName: current.metadata.name });
        cr.metadata.resourceVersion = next.metadata.resourceVersion ?? current.metadata.resourceVersion;
        cr.metadata.uid = next.metadata.uid ? convertUid(next.metadata.uid) : current.metadata.uid;
        const updated = await this.options.storage.request<KubeObject>("PUT", objectPath(ref, current.metadata.name ?? "", namespace), { body: cr, query: pick(query, ["dryRun", "fieldManager"]) });
        if (!query.dryRun) this.recordWrite(write);
        return json(res, 200, present(kind, updated));
      }
      case "delete": {
        const current = await this.getV1(kind, ref, name ?? "", namespace);
        const opts = (body ?? {}) as { preconditions?: { uid?: string; resourceVersion?: string }; propagationPolicy?: string };
        const pre = opts.preconditions;
        const preconditions = pre ? { uid: pre.uid ? convertUid(pre.uid) : undefined, resourceVersion: pre.resourceVersion } : undefined;
        await this.options.storage.request("DELETE", objectPath(ref, current.metadata.name ?? "", namespace), {
          body: { apiVersion: "v1", kind: "DeleteOptions", preconditions, propagationPolicy: opts.propagationPolicy },
          query: pick(query, ["dryRun"]),
        });
        if (!query.dryRun) this.recordWrite(write);
        return json(res, 200, present(kind, current));
      }
      default:
        return status(res, 405, "MethodNotAllowed", `${method} is not supported on ${path}`);
    }
  }

  private recordWrite(w: CalicoWrite): void {
    this.writes.push(w);
    if (this.writes.length > WRITES_KEPT) this.writes.splice(0, this.writes.length - WRITES_KEPT);
  }

  /** The v1 CR behind a v3 name: the same name, or a legacy `default.` one for default-tier policies. */
  private async getV1(kind: CalicoKind, ref: ResourceRef, name: string, namespace: string | undefined): Promise<KubeObject> {
    try {
      return await this.options.storage.request<KubeObject>("GET", objectPath(ref, name, namespace));
    } catch (err) {
      if (!isNotFound(err) || !TIERED.has(kind.kind) || name.includes(".")) throw err;
      return this.options.storage.request<KubeObject>("GET", objectPath(ref, `default.${name}`, namespace));
    }
  }

  /** Streams v1 storage's events as v3 objects, or as PartialObjectMetadata when asked (the garbage collector's informers). */
  private async watch(res: http.ServerResponse, kind: CalicoKind, ref: ResourceRef, namespace: string | undefined, query: Record<string, string>, metadataOnly: boolean): Promise<void> {
    const controller = new AbortController();
    res.on("close", () => controller.abort());
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    try {
      for await (const ev of this.options.storage.watch(ref, {
        namespace, resourceVersion: query.resourceVersion, signal: controller.signal,
        timeoutSeconds: query.timeoutSeconds ? Number(query.timeoutSeconds) : undefined,
      })) {
        const v3 = ev.type === "BOOKMARK" ? { ...ev.object, apiVersion: `${V3_GROUP}/v3`, kind: kind.kind } : present(kind, ev.object);
        const object = metadataOnly ? partial(v3) : v3;
        res.write(`${JSON.stringify({ type: ev.type, object })}\n`);
      }
    } catch (err) {
      if (!controller.signal.aborted) {
        const st = err instanceof ApiError ? rewriteStatus(err.status, err.code, err.message) : statusOf(500, "InternalError", (err as Error).message);
        res.write(`${JSON.stringify({ type: "ERROR", object: st })}\n`);
      }
    }
    res.end();
  }

  private authenticate(req: http.IncomingMessage): Caller | undefined {
    const sock = req.socket as TLSSocket;
    if (!sock.authorized) return undefined;
    if (sock.getPeerCertificate().subject?.CN !== "front-proxy-client") return undefined;
    const user = header(req, "x-remote-user")[0] ?? "system:anonymous";
    return { user, groups: header(req, "x-remote-group") };
  }

  private async authorize(caller: Caller, verb: string, kind: CalicoKind, namespace?: string, name?: string): Promise<boolean> {
    if (caller.groups.includes("system:masters")) return true;
    const key = JSON.stringify([caller, verb, kind.v3Plural, namespace, name]);
    const hit = this.sarCache.get(key);
    if (hit && hit.until > Date.now()) return hit.allowed;
    const sar = await this.options.storage.request<{ status?: { allowed?: boolean } }>("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
      body: {
        apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview",
        spec: { user: caller.user, groups: caller.groups, resourceAttributes: { group: V3_GROUP, version: "v3", resource: kind.v3Plural, verb, namespace, name } },
      },
    });
    const allowed = sar.status?.allowed === true;
    this.sarCache.set(key, { allowed, until: Date.now() + 10_000 });
    return allowed;
  }

  private fail(res: http.ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof ApiError) {
      json(res, err.code, rewriteStatus(err.status, err.code, err.message));
      return;
    }
    json(res, 500, statusOf(500, "InternalError", (err as Error).message));
  }
}

/**
 * libcalico's client defaults a policy's `types` on create and update when they are unset:
 * Ingress when it has ingress rules or no rules at all, Egress when it has egress rules.
 */
function withDefaultTypes(kind: CalicoKind, obj: KubeObject): KubeObject {
  if (!TIERED.has(kind.kind)) return obj;
  const spec = (obj.spec ?? {}) as { types?: string[]; ingress?: unknown[]; egress?: unknown[] };
  if (spec.types?.length) return obj;
  const ingress = (spec.ingress?.length ?? 0) > 0;
  const egress = (spec.egress?.length ?? 0) > 0;
  const types = [...(ingress || !egress ? ["Ingress"] : []), ...(egress ? ["Egress"] : [])];
  return { ...obj, spec: { ...spec, types } };
}

/** The v3 view of a v1 CR, as the Calico API server presents it. */
export function present(kind: CalicoKind, cr: KubeObject): KubeObject {
  // As stored: Calico knows nothing of the migration's record of detached owner references.
  const v3 = convertV1ToV3(kind, cr, { asStored: true }).v3;
  const meta = { ...v3.metadata, resourceVersion: cr.metadata.resourceVersion };
  const created = (annotationMeta(cr).creationTimestamp as string | undefined) ?? cr.metadata.creationTimestamp;
  if (created) meta.creationTimestamp = created;
  if (cr.metadata.deletionTimestamp) meta.deletionTimestamp = cr.metadata.deletionTimestamp;
  return { ...v3, metadata: meta };
}

function annotationMeta(cr: KubeObject): Record<string, unknown> {
  try {
    return JSON.parse(cr.metadata.annotations?.["projectcalico.org/metadata"] ?? "{}") as Record<string, unknown>;
  } catch {
    return {};
  }
}

function v1Ref(kind: CalicoKind): ResourceRef {
  return { group: V1_GROUP, version: "v1", plural: kind.v1Plural, namespaced: kind.namespaced, kind: kind.v1Kind };
}

function verbOf(method: string, name: string | undefined, watch: boolean): string {
  if (method === "GET") return watch ? "watch" : name ? "get" : "list";
  if (method === "POST") return "create";
  if (method === "PUT") return "update";
  if (method === "PATCH") return "patch";
  if (method === "DELETE") return name ? "delete" : "deletecollection";
  return method.toLowerCase();
}

function apiGroup() {
  return { name: V3_GROUP, versions: [{ groupVersion: `${V3_GROUP}/v3`, version: "v3" }], preferredVersion: { groupVersion: `${V3_GROUP}/v3`, version: "v3" } };
}

function apiResourceList() {
  return {
    kind: "APIResourceList", apiVersion: "v1", groupVersion: `${V3_GROUP}/v3`,
    resources: SERVED.map((k) => ({
      name: k.v3Plural, singularName: k.kind.toLowerCase(), namespaced: k.namespaced, kind: k.kind,
      verbs: READ_ONLY.has(k.converter) ? ["get", "list", "watch"] : ["create", "delete", "get", "list", "patch", "update", "watch"],
    })),
  };
}

/** A Status body from v1 storage, renamed to the v3 group (users see the group they asked). */
function rewriteStatus(st: StatusBody | undefined, code: number, message: string): StatusBody {
  const out: StatusBody = { kind: "Status", status: "Failure", ...(st ?? {}), code, message: (st?.message ?? message).replaceAll(V1_GROUP, V3_GROUP) };
  if (out.details?.group === V1_GROUP) out.details = { ...out.details, group: V3_GROUP };
  return { apiVersion: "v1", ...out } as StatusBody;
}

function statusOf(code: number, reason: string, message: string): StatusBody {
  return { apiVersion: "v1", kind: "Status", status: "Failure", code, reason, message } as StatusBody;
}

function partial(obj: KubeObject): KubeObject {
  return { apiVersion: "meta.k8s.io/v1", kind: "PartialObjectMetadata", metadata: obj.metadata };
}

function metadataOnly(req: http.IncomingMessage): boolean {
  return /as=PartialObjectMetadataList/.test(req.headers.accept ?? "");
}

/**
 * A get or watch that asks for PartialObjectMetadata (client-go's metadata client, as the garbage
 * collector uses) is answered with it, as a real aggregated server does: the collector then
 * observes Calico objects as on a real cluster. Until c9ecc90 whole objects came back and every
 * collector watch of projectcalico.org/v3 failed to decode. CALICO_STANDIN_PARTIAL_METADATA=0
 * brings that old answer back, for comparing the two.
 */
function asPartial(req: http.IncomingMessage): boolean {
  return process.env.CALICO_STANDIN_PARTIAL_METADATA !== "0" && /as=PartialObjectMetadata(?!List)/.test(req.headers.accept ?? "");
}

function userAgent(req: http.IncomingMessage): string {
  return req.headers["user-agent"] ?? "no user agent";
}

function pick(q: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.flatMap((k) => (q[k] === undefined ? [] : [[k, q[k]]])));
}

function header(req: http.IncomingMessage, name: string): string[] {
  return req.headersDistinct[name] ?? [];
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const s = Buffer.concat(chunks).toString("utf8");
  return s ? JSON.parse(s) : undefined;
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function text(res: http.ServerResponse, code: number, body: string): void {
  res.writeHead(code, { "content-type": "text/plain" }).end(body);
}

function status(res: http.ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, statusOf(code, reason, message));
}
