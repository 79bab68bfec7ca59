/**
 * The connection pool to one API server: TLS trust and client certificate, the name the server's
 * certificate is checked against (kubeconfig `tls-server-name`), and an HTTP CONNECT proxy
 * (kubeconfig `proxy-url`) that carries the connections, TLS staying end to end.
 */
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";

/** What the agent of one server needs. */
export interface TransportOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  insecureSkipTLSVerify?: boolean;
  tlsServerName?: string;
  proxyUrl?: string;
  maxSockets?: number;
}

/** A proxy URL this client can use, or an error naming the kubeconfig field: only http:// (CONNECT) proxies. */
export function checkProxyUrl(proxyUrl: string): URL {
  let url: URL;
  try {
    url = new URL(proxyUrl);
  } catch {
    throw new Error(`proxy-url "${proxyUrl}" is not a URL`);
  }
  if (url.protocol !== "http:") {
    throw new Error(`proxy-url "${proxyUrl}": ${url.protocol.replace(/:$/, "")} proxies are not supported; use an http:// proxy (HTTP CONNECT) or remove proxy-url`);
  }
  return url;
}

/** A keep-alive agent for `server` with these TLS and proxy settings. */
export function createAgent(server: URL, options: TransportOptions): http.Agent {
  const name = options.tlsServerName;
  const agentOptions: https.AgentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets ?? 64,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    rejectUnauthorized: !options.insecureSkipTLSVerify,
    // SNI and the certificate check both use tls-server-name instead of the URL's host.
    ...(name ? { servername: name, checkServerIdentity: (host: string, cert: tls.PeerCertificate) => withName(tls.checkServerIdentity(host, cert), name) } : {}),
  };
  const secure = server.protocol !== "http:";
  if (!options.proxyUrl) return secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const proxy = checkProxyUrl(options.proxyUrl);
  return secure ? new TunnelledHttpsAgent(agentOptions, proxy) : new TunnelledHttpAgent(agentOptions, proxy);
}

/** Stops pooling an agent's sockets: idle ones close now, busy ones when their request ends. */
export function retireAgent(agent: http.Agent): void {
  agent.keepSocketAlive = () => false;
  for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
}

function withName(err: Error | undefined, name: string): Error | undefined {
  if (err) err.message = `${err.message} (the name checked is the kubeconfig's tls-server-name "${name}")`;
  return err;
}

type ConnectOptions = tls.ConnectionOptions & { host?: string | null; port?: number | string | null };

type Callback = (err: Error | null, stream: Duplex) => void;

/** Plain HTTP to the server through a CONNECT tunnel. */
class TunnelledHttpAgent extends http.Agent {
  constructor(options: http.AgentOptions, private readonly proxy: URL) {
    super(options);
  }

  override createConnection(options: ConnectOptions, callback?: Callback): undefined {
    tunnel(this.proxy, options, 80, callback, (socket) => socket);
  }
}

/** TLS to the server inside a CONNECT tunnel: the proxy sees only encrypted bytes. */
class TunnelledHttpsAgent extends https.Agent {
  constructor(options: https.AgentOptions, private readonly proxy: URL) {
    super(options);
  }

  override createConnection(options: ConnectOptions, callback?: Callback): undefined {
    tunnel(this.proxy, options, 443, callback, (socket) => tls.connect({ ...options, socket }));
  }
}

/** Opens the tunnel for one connection and hands the (wrapped) socket to the agent's callback. */
function tunnel(proxy: URL, options: ConnectOptions, defaultPort: number, callback: Callback | undefined, wrap: (socket: net.Socket) => Duplex): void {
  const target = `${options.host ?? "localhost"}:${options.port || defaultPort}`;
  connectTunnel(proxy, target).then(
    (socket) => callback?.(null, wrap(socket)),
    (err: Error) => callback?.(err, undefined as unknown as Duplex),
  );
}

/** Asks an HTTP proxy for a tunnel to `target` (host:port). */
function connectTunnel(proxy: URL, target: string): Promise<net.Socket> {
  const headers: Record<string, string> = { Host: target };
  if (proxy.username) {
    const userinfo = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers["Proxy-Authorization"] = `Basic ${Buffer.from(userinfo).toString("base64")}`;
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: proxy.hostname, port: proxy.port || 80, method: "CONNECT", path: target, headers, agent: false });
    req.setTimeout(30_000, () => req.destroy(new Error("no answer within 30 s")));
    req.once("connect", (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`proxy-url ${proxy.host} refused CONNECT ${target}: HTTP ${res.statusCode} ${res.statusMessage ?? ""}`.trim()));
        return;
      }
      // The tunnel now belongs to the request sent through it, and so does its timeout.
      socket.setTimeout(0);
      socket.removeAllListeners("timeout");
      if (head.length) socket.unshift(head);
      resolve(socket);
    });
    req.once("error", (err) => reject(new Error(`proxy-url ${proxy.host}: CONNECT ${target}: ${err.message}`)));
    req.end();
  });
}
