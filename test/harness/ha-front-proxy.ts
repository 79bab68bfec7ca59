/**
 * The load balancer in front of an HA control plane: terminates TLS on 127.0.0.1 with the cluster's
 * serving certificate and sends each request to the next kube-apiserver in turn (round robin),
 * streaming answers and watches. Bearer tokens pass through; a request made with the admin client
 * certificate (the only certificate user here) is sent on with that certificate.
 *
 * It can also play a lagging replica: for `lagMs` after the aggregated APIService
 * `v3.projectcalico.org` is deleted, the requests for `projectcalico.org/v3` that fall to the last
 * replica's turn are proxied to the Calico API server, as a kube-apiserver whose aggregator has
 * not yet dropped the APIService would do: authenticated with the front-proxy client certificate,
 * the caller's identity (from a TokenReview) in the request headers.
 */
import crypto from "node:crypto";
import type http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";

/** How to start the balancer. */
export interface HaFrontProxyOptions {
  /** The kube-apiservers, e.g. https://127.0.0.1:6443. */
  backends: string[];
  ca: Buffer;
  serving: { cert: Buffer; key: Buffer };
  admin: { cert: Buffer; key: Buffer };
  /** The Calico API server (for the lagging replica) and the front-proxy client credentials. */
  calico: { url: string; ca: Buffer; cert: Buffer; key: Buffer };
  /** Reads the APIService and reviews tokens (talks to a backend directly). */
  client: KubeClient;
  port?: number;
}

/** What the balancer has done, for tests. */
export interface HaFrontProxyState {
  requests: number[];
  /** Requests proxied to the Calico API server by the lagging replica after the APIService went. */
  lagged: number;
  lagMs: number;
  apiServiceDeletedAt?: string;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "host"]);

/** A running balancer. */
export class HaFrontProxy {
  private readonly perBackend: number[];
  private lagged = 0;
  private lagMs = 0;
  private apiServiceSeen = false;
  private deletedAt?: number;
  private turn = 0;
  private readonly adminAgent: https.Agent;
  private readonly plainAgent: https.Agent;
  private readonly calicoAgent: https.Agent;
  private readonly adminFingerprint: string;
  private readonly identities = new Map<string, { user: string; groups: string[] }>();
  private readonly sockets = new Set<Socket>();
  private server!: https.Server;
  private poller?: NodeJS.Timeout;

  private constructor(private readonly options: HaFrontProxyOptions) {
    this.perBackend = options.backends.map(() => 0);
    this.adminAgent = new https.Agent({ keepAlive: true, maxSockets: 256, ca: options.ca, cert: options.admin.cert, key: options.admin.key });
    this.plainAgent = new https.Agent({ keepAlive: true, maxSockets: 256, ca: options.ca });
    this.calicoAgent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: options.calico.ca, cert: options.calico.cert, key: options.calico.key, servername: "calico-api.calico-apiserver.svc" });
    this.adminFingerprint = new crypto.X509Certificate(options.admin.cert).fingerprint256;
  }

  /** Starts the balancer and its watch on the APIService. */
  static async start(options: HaFrontProxyOptions): Promise<HaFrontProxy> {
    const p = new HaFrontProxy(options);
    p.server = https.createServer(
      { cert: options.serving.cert, key: options.serving.key, ca: options.ca, requestCert: true, rejectUnauthorized: false },
      (req, res) => void p.handle(req, res).catch(() => res.destroy()),
    );
    p.server.on("secureConnection", (s: Socket) => {
      p.sockets.add(s);
      s.on("close", () => p.sockets.delete(s));
    });
    p.server.on("clientError", (_e, s) => s.destroy());
    await new Promise<void>((resolve) => p.server.listen(options.port ?? 0, "127.0.0.1", resolve));
    p.poller = setInterval(() => void p.pollApiService(), 200);
    return p;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Sets how long the lagging replica keeps proxying projectcalico.org/v3 after the APIService goes (0: no lag). */
  setLag(ms: number): void {
    this.lagMs = ms;
  }

  state(): HaFrontProxyState {
    const s: HaFrontProxyState = { requests: [...this.perBackend], lagged: this.lagged, lagMs: this.lagMs };
    if (this.deletedAt !== undefined) s.apiServiceDeletedAt = new Date(this.deletedAt).toISOString();
    return s;
  }

  async stop(): Promise<void> {
    clearInterval(this.poller);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const a of [this.adminAgent, this.plainAgent, this.calicoAgent]) a.destroy();
  }

  private async pollApiService(): Promise<void> {
    // Once the aggregated APIService goes, Kubernetes registers an automanaged one for the v3
    // CRDs (no service): that one counts as gone.
    let aggregated: boolean;
    try {
      const svc = await this.options.client.request<{ spec?: { service?: unknown } }>("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v3.projectcalico.org", { timeoutMs: 2000 });
      aggregated = svc.spec?.service !== undefined && svc.spec.service !== null;
    } catch (err) {
      if (!isNotFound(err)) return;
      aggregated = false;
    }
    if (aggregated) {
      this.apiServiceSeen = true;
      this.deletedAt = undefined;
    } else if (this.apiServiceSeen) {
      this.apiServiceSeen = false;
      this.deletedAt = Date.now();
    }
  }

  private lagging(path: string, turn: number): boolean {
    if (this.lagMs <= 0 || this.deletedAt === undefined) return false;
    if (Date.now() - this.deletedAt > this.lagMs) return false;
    return turn === this.options.backends.length - 1 && path.startsWith("/apis/projectcalico.org/v3");
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const turn = this.turn++ % this.options.backends.length;
    const sock = req.socket as TLSSocket;
    const peer = sock.getPeerCertificate();
    const withCert = sock.authorized && peer.fingerprint256 !== undefined;
    if (withCert && peer.fingerprint256 !== this.adminFingerprint) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code: 401, reason: "Unauthorized", message: "HA front proxy: only the admin certificate and bearer tokens are forwarded" }));
      return;
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    let target: URL;
    let agent: https.Agent;
    if (this.lagging(req.url ?? "", turn)) {
      const who = withCert ? { user: "admin", groups: ["system:masters", "system:authenticated"] } : await this.identify(req.headers.authorization);
      if (!who) {
        res.writeHead(401).end();
        return;
      }
      delete headers.authorization;
      headers["x-remote-user"] = who.user;
      headers["x-remote-group"] = who.groups;
      target = new URL(this.options.calico.url);
      agent = this.calicoAgent;
      this.lagged++;
    } else {
      target = new URL(this.options.backends[turn] ?? "");
      agent = withCert ? this.adminAgent : this.plainAgent;
      this.perBackend[turn] = (this.perBackend[turn] ?? 0) + 1;
    }
    const upstream = https.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (up) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
      res.writeHead(up.statusCode ?? 502, out);
      up.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  }

  /** The user behind a bearer token (TokenReview, cached). */
  private async identify(authorization: string | undefined): Promise<{ user: string; groups: string[] } | undefined> {
    const token = authorization?.replace(/^Bearer\s+/i, "");
    if (!token) return { user: "system:anonymous", groups: ["system:unauthenticated"] };
    const cached = this.identities.get(token);
    if (cached) return cached;
    const review = await this.options.client.request<{ status?: { authenticated?: boolean; user?: { username?: string; groups?: string[] } } }>(
      "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
      { body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } } },
    );
    if (!review.status?.authenticated) return undefined;
    const who = { user: review.status.user?.username ?? "", groups: review.status.user?.groups ?? [] };
    this.identities.set(token, who);
    return who;
  }
}
