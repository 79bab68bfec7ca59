/**
 * An informer over KubeClient, like client-go's: a paged list, then a watch from the list's
 * resourceVersion (with bookmarks) that keeps a local cache current and calls handlers; it
 * re-watches from the last seen resourceVersion, re-lists on 410 Gone or a watch ERROR, backs off
 * and retries forever on failures, and resyncs periodically.
 */
import type { KubeClient } from "./client.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { systemClock, type Clock } from "./clock.js";
import { describeError, isGone, TransportError } from "./errors.js";
import { silentLogger, type Logger } from "./logger.js";
import type { KubeObject, WatchEvent } from "./object.js";
import { apiVersionOf, collectionPath, objectKey, type ResourceRef } from "./resource.js";

/** Callbacks for cache changes; they must not modify the objects they are given (they are the cache). */
export interface InformerHandlers<T extends KubeObject> {
  onAdd?: (obj: T) => void | Promise<void>;
  /** Also called with old === new for every cached object at each resync, and for objects still present after a re-list. */
  onUpdate?: (oldObj: T, newObj: T) => void | Promise<void>;
  /** Called with the last state known (from the DELETED event, or the cache when a re-list found it gone). */
  onDelete?: (obj: T) => void | Promise<void>;
}

/** What to watch and how. */
export interface InformerOptions<T extends KubeObject> {
  /** Only this namespace (namespaced resources); default all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Interval of resyncs (onUpdate for every cached object); 0 disables. Default 60 s. */
  resyncMs?: number;
  /** List page size. Default 500. */
  pageSize?: number;
  /** Server-side timeout of each watch; default a random 5–10 min, like client-go. */
  watchTimeoutSeconds?: number;
  /** Backoff after failures. Default 800 ms doubling to 30 s, ±50 % jitter. */
  backoff?: BackoffOptions;
  clock?: Clock;
  logger?: Logger;
  /** Randomness for the watch timeout (and the backoff unless it has its own). */
  random?: () => number;
  handlers?: InformerHandlers<T>;
}

/** A watch that ends by itself sooner than this without delivering anything counts as a failure. */
const SHORT_WATCH_MS = 1_000;

/** Signals a watch that closed at once, so the loop backs off instead of spinning. */
class ShortWatchError extends Error {
  override readonly name = "ShortWatchError";
}

/** A cache of one resource kept current by list + watch; `start()` it, `stop()` it when done. */
export class Informer<T extends KubeObject = KubeObject> {
  private cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly syncWaiters = new Set<(synced: boolean) => void>();
  private readonly abort = new AbortController();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly backoff: Backoff;
  private readonly what: string;
  private synced = false;
  private lastResourceVersion: string | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly resource: ResourceRef,
    private readonly options: InformerOptions<T> = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.backoff = new Backoff({ baseMs: 800, factor: 2, maxMs: 30_000, jitter: 0.5, random: this.random, ...options.backoff });
    this.what = collectionPath(resource, options.namespace);
    this.logger = options.logger ?? silentLogger;
    if (options.handlers) this.handlers.push(options.handlers);
  }

  /** Adds handlers; when the cache already holds objects, the new onAdd is called for each of them. */
  addHandlers(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
    for (const obj of this.cache.values()) this.call("onAdd", () => handlers.onAdd?.(obj));
  }

  /** Starts listing and watching in the background (idempotent). */
  start(): void {
    if (this.running || this.abort.signal.aborted) return;
    this.running = Promise.all([this.listAndWatch(), this.resyncLoop()]).then(() => undefined);
  }

  /** Stops watching and resyncing; resolves once the background loops have ended. */
  async stop(): Promise<void> {
    this.abort.abort(new Error(`informer for ${this.what} stopped`));
    for (const wake of [...this.syncWaiters]) wake(false);
    await this.running;
  }

  /** True once the first list has been loaded into the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true once synced, or false if the signal aborts or the informer stops first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.abort.signal.aborted || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => wake(false);
      const wake = (synced: boolean) => {
        this.syncWaiters.delete(wake);
        signal?.removeEventListener("abort", onAbort);
        resolve(synced);
      };
      this.syncWaiters.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Every cached object (a snapshot of the cache; do not modify the objects). */
  list(): T[] {
    return [...this.cache.values()];
  }

  /** The cached object with this name (and namespace, for namespaced resources). */
  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(objectKey(namespace, name));
  }

  /** The resourceVersion the informer is current to (from the last list, event or bookmark). */
  get resourceVersion(): string | undefined {
    return this.lastResourceVersion;
  }

  private async listAndWatch(): Promise<void> {
    const signal = this.abort.signal;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.listIntoCache(signal);
          needList = false;
          this.backoff.reset();
        }
        await this.watchOnce(signal);
      } catch (err) {
        if (signal.aborted) break;
        // Transport failures resume the watch where it was; anything the server refused (404
        // after a CRD was deleted, 410 Gone, a watch ERROR event, …) means listing again.
        if (!(err instanceof TransportError) && !(err instanceof ShortWatchError)) needList = true;
        // An expired resourceVersion after a healthy stretch is routine: re-list at once.
        const relistNow = isGone(err) && this.backoff.attempts === 0;
        const backoffMs = this.backoff.next();
        const delayMs = relistNow ? 0 : backoffMs;
        const fields = { resource: this.what, err: describeError(err), relist: needList, attempt: this.backoff.attempts, delayMs };
        if (relistNow) this.logger.info(fields, "informer: resourceVersion expired; re-listing");
        else this.logger.warn(fields, "informer: list/watch failed; retrying");
        try {
          await this.clock.sleep(delayMs, signal);
        } catch {
          break; // stopped
        }
      }
    }
  }

  private async listIntoCache(signal: AbortSignal): Promise<void> {
    const base = {
      namespace: this.options.namespace,
      labelSelector: this.options.labelSelector,
      fieldSelector: this.options.fieldSelector,
      signal,
    };
    const items = new Map<string, T>();
    let resourceVersion: string | undefined;
    try {
      for await (const page of this.client.listPages<T>(this.resource, { ...base, limit: this.options.pageSize ?? 500 })) {
        for (const item of page.items) items.set(this.keyOf(item), this.withType(item));
        resourceVersion = page.metadata.resourceVersion;
      }
    } catch (err) {
      // The continue token expired between pages: take the whole list in one request instead.
      if (!isGone(err) || signal.aborted) throw err;
      items.clear();
      const whole = await this.client.list<T>(this.resource, base);
      for (const item of whole.items) items.set(this.keyOf(item), this.withType(item));
      resourceVersion = whole.metadata.resourceVersion;
    }
    if (signal.aborted) return;
    this.replace(items);
    this.lastResourceVersion = resourceVersion;
    this.logger.debug({ resource: this.what, count: items.size, resourceVersion }, "informer: listed");
    if (!this.synced) {
      this.synced = true;
      for (const wake of [...this.syncWaiters]) wake(true);
    }
  }

  /** Swaps in a fresh list: adds for new keys, updates for kept ones, deletes for vanished ones. */
  private replace(items: Map<string, T>): void {
    const old = this.cache;
    this.cache = items;
    for (const [key, obj] of items) {
      const prev = old.get(key);
      if (prev) this.emitUpdate(prev, obj);
      else this.emitAdd(obj);
    }
    for (const [key, prev] of old) if (!items.has(key)) this.emitDelete(prev);
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    const started = this.clock.now();
    let events = 0;
    const stream = this.client.watch<T>(this.resource, {
      namespace: this.options.namespace,
      labelSelector: this.options.labelSelector,
      fieldSelector: this.options.fieldSelector,
      resourceVersion: this.lastResourceVersion,
      timeoutSeconds: this.options.watchTimeoutSeconds ?? Math.floor(300 * (1 + this.random())),
      signal,
    });
    for await (const event of stream) {
      events++;
      this.backoff.reset();
      this.apply(event);
    }
    if (!signal.aborted && events === 0 && this.clock.now() - started < SHORT_WATCH_MS) {
      throw new ShortWatchError(`watch of ${this.what} closed at once without events`);
    }
  }

  private apply(event: WatchEvent<T>): void {
    const obj = event.object;
    const rv = obj.metadata.resourceVersion;
    switch (event.type) {
      case "BOOKMARK":
        break;
      case "ADDED":
      case "MODIFIED": {
        const key = this.keyOf(obj);
        const prev = this.cache.get(key);
        this.cache.set(key, obj);
        if (prev) this.emitUpdate(prev, obj);
        else this.emitAdd(obj);
        break;
      }
      case "DELETED": {
        this.cache.delete(this.keyOf(obj));
        this.emitDelete(obj);
        break;
      }
      case "ERROR":
        // KubeClient.watch throws ERROR events as ApiError; this only guards a changed client.
        throw new Error(`watch of ${this.what}: unexpected ERROR event`);
      default: {
        const never: never = event.type;
        throw new Error(`watch of ${this.what}: unknown event type ${String(never)}`);
      }
    }
    if (rv) this.lastResourceVersion = rv;
  }

  private async resyncLoop(): Promise<void> {
    const resyncMs = this.options.resyncMs ?? 60_000;
    if (resyncMs <= 0) return;
    const signal = this.abort.signal;
    for (;;) {
      try {
        await this.clock.sleep(resyncMs, signal);
      } catch {
        return; // stopped
      }
      if (!this.synced) continue;
      for (const obj of this.cache.values()) this.emitUpdate(obj, obj);
    }
  }

  private emitAdd(obj: T): void {
    for (const h of this.handlers) this.call("onAdd", () => h.onAdd?.(obj));
  }

  private emitUpdate(oldObj: T, newObj: T): void {
    for (const h of this.handlers) this.call("onUpdate", () => h.onUpdate?.(oldObj, newObj));
  }

  private emitDelete(obj: T): void {
    for (const h of this.handlers) this.call("onDelete", () => h.onDelete?.(obj));
  }

  /** Runs one handler; a throw or rejection is logged, never allowed to stop the informer. */
  private call(handler: string, fn: () => void | Promise<void>): void {
    const report = (err: unknown) =>
      this.logger.error({ resource: this.what, handler, err: describeError(err) }, "informer: event handler failed");
    try {
      const result = fn();
      if (result instanceof Promise) result.catch(report);
    } catch (err) {
      report(err);
    }
  }

  private keyOf(obj: T): string {
    return objectKey(this.resource.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name ?? "");
  }

  /** List items come without apiVersion and kind; watch events carry them. Make both alike. */
  private withType(item: T): T {
    if (item.apiVersion && item.kind) return item;
    return { ...item, apiVersion: apiVersionOf(this.resource), kind: this.resource.kind };
  }
}
