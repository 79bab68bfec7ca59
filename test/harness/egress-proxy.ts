/**
 * The control plane's only way out: an HTTP CONNECT proxy on a Unix socket that kube-apiserver's
 * `cluster` egress selector dials for aggregated API servers (and webhooks). It maps the
 * addresses it knows (a Service's cluster IP and port) to a 127.0.0.1 port and refuses every other
 * target, so nothing ever opens a TCP connection outside 127.0.0.0/8.
 */
import fs from "node:fs";
import http from "node:http";
import net from "node:net";

/** One refused CONNECT, for tests and logs. */
export interface RefusedTarget {
  target: string;
  at: string;
}

/** A running egress proxy; `stop()` closes it and every tunnel. */
export class EgressProxy {
  /** Tunnels opened, by target. */
  readonly tunnels: Record<string, number> = {};
  /** Targets refused (most recent last, at most 100 kept). */
  readonly refused: RefusedTarget[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    readonly socketPath: string,
    private readonly routes: Map<string, number>,
    private readonly server: http.Server,
  ) {}

  /** Starts the proxy on `socketPath` (replacing a stale socket file) with `routes` ("ip:port" → 127.0.0.1 port). */
  static async start(socketPath: string, routes: Record<string, number> = {}): Promise<EgressProxy> {
    fs.rmSync(socketPath, { force: true });
    const server = http.createServer((_req, res) => {
      res.writeHead(405, { "content-type": "text/plain" }).end("egress proxy: only CONNECT is served\n");
    });
    const proxy = new EgressProxy(socketPath, new Map(Object.entries(routes)), server);
    server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => proxy.tunnel(req, client, head));
    server.on("connection", (s: net.Socket) => {
      proxy.sockets.add(s);
      s.on("close", () => proxy.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => resolve());
    });
    return proxy;
  }

  /** Adds or replaces a route. */
  route(target: string, localPort: number): void {
    this.routes.set(target, localPort);
  }

  private tunnel(req: http.IncomingMessage, client: net.Socket, head: Buffer): void {
    const target = req.url ?? "";
    const port = this.routes.get(target);
    if (port === undefined) {
      this.refused.push({ target, at: new Date().toISOString() });
      if (this.refused.length > 100) this.refused.shift();
      client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\negress proxy: ${target} is not a known in-cluster address; refused\n`);
      return;
    }
    this.tunnels[target] = (this.tunnels[target] ?? 0) + 1;
    const upstream = net.connect(port, "127.0.0.1");
    upstream.once("connect", () => {
      client.write("HTTP/1.1 200 Connection established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    const close = () => {
      upstream.destroy();
      client.destroy();
    };
    upstream.on("error", () => {
      if (!client.destroyed && upstream.connecting) client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
      close();
    });
    client.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
  }

  /** Closes the listener and every open tunnel. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.socketPath, { force: true });
  }
}

/** kube-apiserver's EgressSelectorConfiguration naming this proxy for the `cluster` egress. */
export function egressSelectorConfig(socketPath: string): string {
  return [
    "apiVersion: apiserver.k8s.io/v1beta1",
    "kind: EgressSelectorConfiguration",
    "egressSelections:",
    "- name: cluster",
    "  connection:",
    "    proxyProtocol: HTTPConnect",
    "    transport:",
    "      uds:",
    `        udsName: ${socketPath}`,
    "",
  ].join("\n");
}
