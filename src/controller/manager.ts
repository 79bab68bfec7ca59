/**
 * The controller manager: waits for the DatastoreMigration CRD to be served (and follows its
 * removal and re-creation), resolves the served version (v1, else v1beta1), runs informers on the
 * CR and the component workloads feeding a de-duplicating work queue with one key, and turns
 * reconcile outcomes into requeues: level-triggered, like controller-runtime.
 */
import type { Registry } from "prom-client";
import {
  DATASTORE_MIGRATION_CRD,
  MIGRATION_NAME,
  MIGRATION_VERSIONS,
  migrationResource,
  type MigrationVersion,
} from "../api/datastore-migration.js";
import type { KubeClient } from "../kube/client.js";
import type { Clock } from "../kube/clock.js";
import { Discovery } from "../kube/discovery.js";
import { describeError, isNotFound } from "../kube/errors.js";
import { Informer } from "../kube/informer.js";
import type { Logger } from "../kube/logger.js";
import type { KubeObject } from "../kube/object.js";
import { ExponentialRateLimiter, WorkQueue } from "../kube/work-queue.js";
import { CRDS } from "../migration/prerequisites.js";
import { componentsNamespace, DAEMONSETS, DEPLOYMENTS } from "../migration/components.js";
import type { ControllerConfig } from "./config.js";
import type { ControllerContext, ProcessState } from "./context.js";
import { EventRecorder } from "./events.js";
import { MigrationMetrics } from "./metrics.js";
import { isTerminal } from "./outcome.js";
import { recordError, reconcile } from "./reconciler.js";
import { ReportStore } from "../migration/report-store.js";

/** Dependencies of the manager. */
export interface ManagerDeps {
  client: KubeClient;
  config: ControllerConfig;
  clock: Clock;
  log: Logger;
  registry: Registry;
  /** Namespace for the report, or undefined when it cannot be used. */
  reportNamespace?: string;
}

/** Runs the controller until the signal aborts. */
export class Manager {
  private ready = false;
  readonly metrics: MigrationMetrics;

  constructor(private readonly deps: ManagerDeps) {
    this.metrics = new MigrationMetrics(deps.registry);
  }

  /** True once informers are synced (for /readyz). */
  isReady(): boolean {
    return this.ready;
  }

  /** Waits for the CRD, runs until it is removed, and again when it is re-created. */
  async run(signal: AbortSignal): Promise<void> {
    const { log, clock } = this.deps;
    const state: ProcessState = { operatorManaged: false };
    while (!signal.aborted) {
      const version = await this.waitForServedVersion(signal);
      if (!version) return;
      const crdGone = new AbortController();
      const onAbort = () => crdGone.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        await this.runWithVersion(version, state, crdGone);
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
      if (!signal.aborted) log.info({}, "DatastoreMigration CRD removed; waiting for it to be installed again");
      await clock.sleep(1000, signal).catch(() => undefined);
    }
  }

  /** Polls discovery every second until a version serving datastoremigrations appears. */
  private async waitForServedVersion(signal: AbortSignal): Promise<MigrationVersion | undefined> {
    const discovery = new Discovery(this.deps.client);
    let logged = false;
    while (!signal.aborted) {
      discovery.reset();
      try {
        for (const v of MIGRATION_VERSIONS) {
          if (await discovery.serves(`migration.projectcalico.org/${v}`, "datastoremigrations")) return v;
        }
        if (!logged) this.deps.log.info({ crd: DATASTORE_MIGRATION_CRD }, "waiting for the DatastoreMigration CRD to be served");
        logged = true;
      } catch (err) {
        this.deps.log.warn({ err: describeError(err) }, "discovery failed; retrying");
      }
      await this.deps.clock.sleep(1000, signal).catch(() => undefined);
    }
    return undefined;
  }

  private async runWithVersion(version: MigrationVersion, state: ProcessState, stop: AbortController): Promise<void> {
    const { client, config, clock, log } = this.deps;
    const discovery = new Discovery(client);
    const events = new EventRecorder(client, log);
    const ctx: ControllerContext = {
      client, discovery, config, clock, log, events, state, metrics: this.metrics,
      report: new ReportStore(client, this.deps.reportNamespace, log),
      version: () => version,
    };
    // A stuck migration retries at least once a minute (client-go's default cap is 1000 s).
    const queue = new WorkQueue<string>({ clock, rateLimiter: new ExponentialRateLimiter({ baseMs: 50, maxMs: 60_000 }) });
    const enqueue = () => queue.add(MIGRATION_NAME);
    const handlers = { onAdd: enqueue, onUpdate: enqueue, onDelete: enqueue };
    // The CR's own status writes do not enqueue it again: a failing reconcile writes its error
    // into status and must then wait out its backoff; a phase change requeues explicitly.
    const crHandlers = { ...handlers, onUpdate: (o: KubeObject, n: KubeObject) => (beyondStatus(o, n) ? enqueue() : undefined) };
    const namespace = await componentsNamespace(client, config.componentsNamespace).catch(() => "calico-system");
    const informers = [
      new Informer(client, migrationResource(version), { handlers: crHandlers, clock, logger: log }),
      new Informer(client, DAEMONSETS, { namespace, handlers, clock, logger: log }),
      new Informer(client, DEPLOYMENTS, { namespace, handlers, clock, logger: log }),
    ];
    // The CR is told in a Warning Event when it is first reconciled (see reconcile).
    if (version !== "v1") log.warn({ version }, "only migration.projectcalico.org/v1beta1 is served; apply this project's DatastoreMigration CRD (manifests/crd) to serve v1");
    for (const i of informers) i.start();
    // The CRD itself: when it is gone (not merely terminating — its CRs still finish their finalizers), stop.
    const crdWatch = this.watchCrdGone(stop, version);
    await Promise.all(informers.map((i) => i.waitForSync(stop.signal)));
    this.ready = true;
    enqueue();
    try {
      while (!stop.signal.aborted) {
        // An aborted get takes no key, so no key is left un-done at shutdown.
        const key = await queue.get(stop.signal);
        if (key === undefined) break;
        await this.processOne(ctx, queue, key);
      }
    } finally {
      this.ready = false;
      queue.shutDown();
      await Promise.all(informers.map((i) => i.stop()));
      await crdWatch;
    }
  }

  private async processOne(ctx: ControllerContext, queue: WorkQueue<string>, key: string): Promise<void> {
    try {
      const result = await reconcile(ctx);
      this.metrics.reconciles.inc({ result: result.requeueAfterMs !== undefined ? "requeue" : "success" });
      queue.forget(key);
      if (result.requeueAfterMs !== undefined) queue.addAfter(key, Math.max(0, result.requeueAfterMs));
    } catch (err) {
      const terminal = isTerminal(err);
      this.metrics.reconciles.inc({ result: terminal ? "terminal" : "error" });
      ctx.log.warn({ err: describeError(err), terminal }, "reconcile failed");
      try {
        await recordError(ctx, err);
        if (terminal) queue.forget(key);
        else queue.addRateLimited(key);
      } catch (writeErr) {
        // A terminal error whose status write failed is retried until it is visible.
        ctx.log.warn({ err: describeError(writeErr) }, "writing the error into status failed");
        queue.addRateLimited(key);
      }
    } finally {
      queue.done(key);
    }
  }

  /**
   * Stops the run when the CRD is gone, was replaced (another uid), no longer serves `version`, or
   * now serves a preferred version (a v1beta1-only CRD upgraded in place): the run resolves it again.
   */
  private async watchCrdGone(stop: AbortController, version: MigrationVersion): Promise<void> {
    let uid: string | undefined;
    while (!stop.signal.aborted) {
      try {
        const crd = await this.deps.client.get(CRDS, DATASTORE_MIGRATION_CRD);
        uid ??= crd.metadata.uid;
        const versions = (crd.spec as { versions?: { name: string; served: boolean }[] }).versions ?? [];
        const served = MIGRATION_VERSIONS.filter((v) => versions.some((x) => x.name === v && x.served));
        if (crd.metadata.uid !== uid || served[0] !== version) {
          this.deps.log.info({ version, served }, "DatastoreMigration CRD replaced or its served versions changed; resolving the served version again");
          stop.abort();
          return;
        }
      } catch (err) {
        if (isNotFound(err)) {
          stop.abort();
          return;
        }
      }
      await this.deps.clock.sleep(2000, stop.signal).catch(() => undefined);
    }
  }
}

/**
 * True unless the update only changed status (and the bookkeeping fields every write changes);
 * a resync (same resourceVersion) counts, so a stuck reconcile is retried at least that often.
 */
export function beyondStatus(oldObj: KubeObject, newObj: KubeObject): boolean {
  if (oldObj.metadata.resourceVersion === newObj.metadata.resourceVersion) return true;
  const rest = (o: KubeObject) => JSON.stringify({ ...o, status: undefined, metadata: { ...o.metadata, resourceVersion: undefined, managedFields: undefined } });
  return rest(oldObj) !== rest(newObj);
}
