/**
 * A fault-injecting reverse proxy for the kube-apiserver on 127.0.0.1: it terminates TLS with the
 * control plane's serving certificate (or serves plain HTTP), forwards every request with the
 * client's own credentials (bearer tokens pass through), streams responses (watches included),
 * and injects seeded, reproducible faults: latency, connection resets, dropped responses, 429/5xx
 * answers with a Kubernetes Status body, and 410 Gone on watches. Targeted rules (by method, path
 * and request body) answer, delay, reset or hold chosen requests; every injected fault is counted.
 */
import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { FAULT_TYPES, pickFault, statusBody, type FaultRates, type FaultRule, type FaultType, type ProxiedRequest } from "./fault-rules.js";
import { prng, type Prng } from "./prng.js";

export { FAULT_TYPES, statusBody, type FaultRates, type FaultRule, type FaultType, type ProxiedRequest, type RuleAction } from "./fault-rules.js";

/** How to start a proxy. */
export interface FaultProxyOptions {
  /** The real API server, e.g. https://127.0.0.1:6443. */
  target: string;
  /** CA of the target's serving certificate. */
  ca?: string | Buffer;
  /** Serve TLS with this certificate (the control plane's serving cert); plain HTTP without. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  seed: number;
  rates?: FaultRates;
  rules?: FaultRule[];
  /**
   * Called (and awaited) for every request first. "drop" destroys the client connection without
   * forwarding (e.g. the client was just killed); a request whose client is gone is not forwarded either.
   */
  onRequest?: (req: ProxiedRequest) => void | "drop" | Promise<void | "drop">;
  /** Requests that never get random faults (rules still apply). */
  exempt?: (req: ProxiedRequest) => boolean;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"]);

/** A running proxy; `stop()` closes it and every connection. */
export class FaultProxy {
  /** Faults actually injected, by type. */
  readonly counts = Object.fromEntries(FAULT_TYPES.map((t) => [t, 0])) as Record<FaultType, number>;
  /** Requests each rule acted on, by rule name. */
  readonly ruleHits: Record<string, number> = {};
  /** Requests seen. */
  requests = 0;
  private readonly random: Prng;
  private rates: FaultRates;
  private rules: FaultRule[];
  private readonly sockets = new Set<Socket>();
  private readonly agent: http.Agent;
  private readonly targetUrl: URL;
  private server!: http.Server;

  private constructor(private readonly options: FaultProxyOptions) {
    this.random = prng(options.seed);
    this.rates = options.rates ?? {};
    this.rules = [...(options.rules ?? [])];
    this.targetUrl = new URL(options.target);
    const agentOptions = { keepAlive: true, maxSockets: 256, ca: options.ca };
    this.agent = this.targetUrl.protocol === "https:" ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /** Starts a proxy on 127.0.0.1 with a free port. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void proxy.handle(req, res).catch(() => req.socket.destroy());
    proxy.server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler) : http.createServer(handler);
    proxy.server.on(options.tls ? "secureConnection" : "connection", (s: Socket) => {
      proxy.sockets.add(s);
      s.on("close", () => proxy.sockets.delete(s));
    });
    proxy.server.on("clientError", (_err, socket) => socket.destroy());
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  /** The proxy's URL (https when it terminates TLS). */
  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `${this.options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  }

  /** Faults injected in total (latency not counted). */
  get injected(): number {
    return FAULT_TYPES.filter((t) => t !== "latency").reduce((n, t) => n + this.counts[t], 0);
  }

  /** Replaces the random fault rates (e.g. none while a test sets up). */
  setRates(rates: FaultRates): void {
    this.rates = rates;
  }

  /** Adds a targeted rule. */
  addRule(rule: FaultRule): void {
    this.rules.push(rule);
  }

  /** Removes the rules with this name. */
  removeRule(name: string): void {
    this.rules = this.rules.filter((r) => r.name !== name);
  }

  /** Closes the listener and every open connection. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", "http://proxy");
    const watch = ["true", "1"].includes(url.searchParams.get("watch") ?? "");
    let body: unknown;
    try {
      body = raw.length ? JSON.parse(raw.toString("utf8")) : undefined;
    } catch {
      body = undefined;
    }
    const info: ProxiedRequest = { id: ++this.requests, method: req.method ?? "GET", path: url.pathname, query: url.searchParams, watch, body, accept: req.headers.accept ?? "", at: Date.now() };
    if ((await this.options.onRequest?.(info)) === "drop") req.socket.destroy();
    if (req.socket.destroyed) return;

    // Two draws per request whatever happens, so the sequence depends only on the request order.
    const [lo, hi] = this.rates.latencyMs ?? [0, 0];
    const latency = lo + this.random.next() * (hi - lo);
    const u = this.random.next();
    const rule = this.matchRule(info);
    const fault = rule || this.options.exempt?.(info) ? undefined : pickFault(this.rates, u, watch);
    if (latency >= 1) {
      this.counts.latency++;
      await new Promise((r) => setTimeout(r, latency));
    }
    if (rule) return this.applyRule(rule, info, req, res, raw);
    switch (fault) {
      case undefined:
        return this.forward(req, res, raw, { type: "pipe" });
      case "reset":
        this.counts.reset++;
        req.socket.destroy();
        return;
      case "drop":
        this.counts.drop++;
        return this.forward(req, res, raw, { type: "drop", afterMs: this.random.int(2000), watch });
      case "watchGoneAnswer":
        this.counts.watchGoneAnswer++;
        return this.answer(res, 410, "too old resource version (injected by fault-proxy)");
      case "watchGoneEvent": {
        const [min, max] = this.rates.watchGoneAfterMs ?? [200, 3200];
        return this.forward(req, res, raw, { type: "goneEvent", afterMs: this.random.between(min, max) });
      }
      case "status429":
      case "status500":
      case "status503":
      case "status504": {
        const code = Number(fault.slice("status".length));
        this.counts[fault]++;
        const after = info.method !== "GET" && (code === 500 || code === 504) && this.random.chance(this.rates.errorAfterForward ?? 0);
        const message = `fault-proxy injected ${code}${after ? " after the request reached the server" : ""}`;
        if (after) return this.forward(req, res, raw, { type: "replace", code, message });
        return this.answer(res, code, message, code === 429 ? 1 : undefined);
      }
      case "latency":
        throw new Error("latency is not picked as a fault");
      default: {
        const never: never = fault;
        throw new Error(`unknown fault ${String(never)}`);
      }
    }
  }

  private matchRule(info: ProxiedRequest): FaultRule | undefined {
    const rule = this.rules.find((r) =>
      (r.times === undefined || r.times > 0) && (!r.method || r.method === info.method) && (!r.path || r.path.test(info.path)) && (!r.when || r.when(info)));
    if (!rule) return undefined;
    if (rule.times !== undefined) rule.times--;
    this.ruleHits[rule.name] = (this.ruleHits[rule.name] ?? 0) + 1;
    return rule;
  }

  private async applyRule(rule: FaultRule, info: ProxiedRequest, req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void> {
    const a = rule.action;
    switch (a.type) {
      case "status": {
        const message = a.message ?? `fault-proxy rule ${rule.name}: injected ${a.code}`;
        if (a.afterForward) return this.forward(req, res, raw, { type: "replace", code: a.code, message });
        return this.answer(res, a.code, message);
      }
      case "reset":
        req.socket.destroy();
        return;
      case "delay":
        await new Promise((r) => setTimeout(r, a.ms));
        break;
      case "hook":
        await a.run(info);
        break;
      default: {
        const never: never = a;
        throw new Error(`unknown rule action ${JSON.stringify(never)}`);
      }
    }
    if (!req.socket.destroyed) return this.forward(req, res, raw, { type: "pipe" });
  }

  private answer(res: http.ServerResponse, code: number, message: string, retryAfterSeconds?: number): void {
    const body = statusBody(code, message, retryAfterSeconds);
    const headers: Record<string, string | number> = { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) };
    if (retryAfterSeconds !== undefined) headers["Retry-After"] = retryAfterSeconds;
    res.writeHead(code, headers).end(body);
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    raw: Buffer,
    mode: { type: "pipe" } | { type: "drop"; afterMs: number; watch: boolean } | { type: "replace"; code: number; message: string } | { type: "goneEvent"; afterMs: number },
  ): void {
    const headers = { ...req.headers, host: this.targetUrl.host };
    const upstream = (this.targetUrl.protocol === "https:" ? https : http).request(
      { hostname: this.targetUrl.hostname, port: this.targetUrl.port, method: req.method, path: req.url, headers, agent: this.agent },
      (up) => {
        if (mode.type === "replace" || (mode.type === "drop" && !mode.watch)) {
          up.resume();
          up.on("end", () => (mode.type === "replace" ? this.answer(res, mode.code, mode.message) : req.socket.destroy()));
          return;
        }
        const out = Object.fromEntries(Object.entries(up.headers).filter(([k]) => !HOP_BY_HOP.has(k)));
        res.writeHead(up.statusCode ?? 502, out);
        if (mode.type === "drop") {
          setTimeout(() => req.socket.destroy(), mode.afterMs).unref();
          up.pipe(res);
          return;
        }
        if (mode.type === "goneEvent" && up.statusCode === 200) return this.streamThenGone(up, res, mode.afterMs);
        up.pipe(res);
      },
    );
    upstream.on("error", () => {
      if (res.destroyed || req.socket.destroyed) return;
      if (res.headersSent) res.destroy();
      else this.answer(res, 503, "fault-proxy: upstream request failed");
    });
    res.on("close", () => upstream.destroy());
    upstream.end(raw);
  }

  /** Streams a watch line by line; after `afterMs` it ends it with an ERROR event carrying 410 Gone. */
  private streamThenGone(up: http.IncomingMessage, res: http.ServerResponse, afterMs: number): void {
    let tail = "";
    const timer = setTimeout(() => {
      this.counts.watchGoneEvent++;
      up.destroy();
      const status = JSON.parse(statusBody(410, "too old resource version (injected by fault-proxy)")) as unknown;
      res.end(`${JSON.stringify({ type: "ERROR", object: status })}\n`);
    }, afterMs);
    up.on("data", (chunk: Buffer) => {
      tail += chunk.toString("utf8");
      const nl = tail.lastIndexOf("\n");
      if (nl < 0) return;
      res.write(tail.slice(0, nl + 1));
      tail = tail.slice(nl + 1);
    });
    up.on("end", () => {
      clearTimeout(timer);
      res.end(tail);
    });
    up.on("error", () => clearTimeout(timer));
  }
}
