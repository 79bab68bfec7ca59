/**
 * The controller's small HTTP endpoint: `/healthz` (liveness), `/readyz` (readiness from a
 * callback) and `/metrics` (a prom-client registry), on a controller-runtime style bind address.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { describeError } from "./errors.js";
import { silentLogger, type Logger } from "./logger.js";

/** A parsed bind address: host "" means every interface. */
export interface BindAddress {
  host: string;
  port: number;
}

/** Thrown for a bind address that is neither `0`, `:port`, `host:port` nor `[ipv6]:port`. */
export class InvalidBindAddressError extends Error {
  override readonly name = "InvalidBindAddressError";
}

/**
 * Parses `:8080`, `127.0.0.1:0`, `[::1]:9090` or `0.0.0.0:8080`; returns undefined for `0` (and
 * the empty string), which disable the server.
 */
export function parseBindAddress(address: string): BindAddress | undefined {
  const text = address.trim();
  if (text === "" || text === "0") return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+(?:%[\w.-]+)?)\]|([\w.-]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65_535) {
    throw new InvalidBindAddressError(`invalid bind address ${JSON.stringify(address)}: want ":8080", "127.0.0.1:8080", "[::1]:8080" or "0" to disable`);
  }
  return { host: m[1] ?? m[2] ?? "", port };
}

/** A check answering true (healthy/ready) or false; a thrown error counts as false and is reported. */
export type Check = () => boolean | Promise<boolean>;

/** What to serve. */
export interface HttpServerOptions {
  /** `:8080`, `127.0.0.1:0`, … or `0` to disable. */
  bindAddress: string;
  /** Readiness; default always ready. */
  ready?: Check;
  /** Liveness; default always healthy. */
  healthy?: Check;
  /** Served at /metrics when given. */
  registry?: Registry;
  logger?: Logger;
}

/** A running server. */
export interface RunningHttpServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** The host it listens on ("" for every interface). */
  readonly host: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** Starts the server; resolves once it listens, or to undefined when the bind address disables it. */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer | undefined> {
  const bind = parseBindAddress(options.bindAddress);
  if (!bind) return undefined;
  const logger = options.logger ?? silentLogger;
  const server = http.createServer((req, res) => {
    handle(req, res, options).catch((err: unknown) => {
      logger.error({ path: req.url, err: describeError(err) }, "http: request failed");
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("internal error\n");
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: bind.host === "" ? undefined : bind.host, port: bind.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: bind.host, port }, "http: serving /healthz, /readyz, /metrics");
  return {
    port,
    host: bind.host,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, options: HttpServerOptions): Promise<void> {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" }).end("method not allowed\n");
    return;
  }
  switch (path) {
    case "/healthz":
    case "/livez":
      return probe(res, "healthz", options.healthy, options.logger);
    case "/readyz":
      return probe(res, "readyz", options.ready, options.logger);
    case "/metrics": {
      if (!options.registry) break;
      const body = await options.registry.metrics();
      res.writeHead(200, { "Content-Type": options.registry.contentType }).end(req.method === "HEAD" ? undefined : body);
      return;
    }
    default:
      break;
  }
  res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("not found\n");
}

async function probe(res: http.ServerResponse, name: string, check: Check | undefined, logger: Logger = silentLogger): Promise<void> {
  let ok: boolean;
  let why = "";
  try {
    ok = check ? await check() : true;
  } catch (err) {
    ok = false;
    why = `: ${describeError(err)}`;
    logger.warn({ probe: name, err: describeError(err) }, "http: probe failed");
  }
  res.writeHead(ok ? 200 : 503, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" });
  res.end(ok ? "ok\n" : `${name} check failed${why}\n`);
}
