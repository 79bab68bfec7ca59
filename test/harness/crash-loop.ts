/**
 * Crash loops: the controller runs as a real process behind an observing proxy; the loop
 * SIGKILLs it at targeted steps (when the proxy sees the request that starts or continues a
 * step, or a seeded delay after a step began) or at seeded random points, classifies each crash
 * from what was observable at kill time, and starts the controller again.
 */
import { Names, type DatastoreMigration } from "../../src/api/datastore-migration.js";
import { getAggregatedApiService } from "../../src/migration/apiservice.js";
import { proxyForCluster } from "./cluster-proxy.js";
import { DEFAULT_CONFIG } from "../../src/controller/config.js";
import { formatDuration } from "../../src/kube/duration.js";
import { ControllerProcess } from "./controller-process.js";
import { classifyCrash, isDoorEdit, isPostDrainWork, isStatusWrite, isV1List, isV1Read, isV3Create, v3StorageVersion, writtenStatus, type CrashStep } from "./crash-classify.js";
import type { FaultProxy, ProxiedRequest } from "./fault-proxy.js";
import { getMigration } from "./migration-cr.js";
import { prng, type Prng } from "./prng.js";
import type { TestCluster } from "./shared-cluster.js";

/** A merge patch of the CR itself (its annotations, finalizers). */
function isMigrationPatch(r: ProxiedRequest): boolean {
  return r.method === "PATCH" && /\/datastoremigrations\/[^/]+$/.test(r.path);
}

/** One crash. */
export interface CrashRecord {
  n: number;
  /** What triggered it: a targeted step or "random". */
  trigger: CrashStep | "random";
  /** The step it hit, by classification. */
  step: CrashStep | "other";
  phase: string;
  message: string;
}

/** How to run the loop. */
export interface CrashLoopOptions {
  cluster: TestCluster;
  seed: number;
  /** The controller's --drain-period in ms (long enough to crash inside it). Default 4000. */
  drainMs?: number;
  /** Extra controller flags (e.g. --no-validate). */
  extraArgs?: string[];
  /** Progress lines. */
  log?: (line: string) => void;
  /** Longest wait for a targeted step to come. Default 180 s. */
  stepTimeoutMs?: number;
}

interface Waiter {
  match: (r: ProxiedRequest) => boolean;
  /** Kill before forwarding the request, or only note it (and let a timer kill). */
  kill: boolean;
  resolve: (r: ProxiedRequest) => void;
}

/** A controller process that is killed and restarted on demand. */
export class CrashLoop {
  readonly crashes: CrashRecord[] = [];
  controller!: ControllerProcess;
  proxy!: FaultProxy;
  private kubeconfig = "";
  private readonly random: Prng;
  private waiters: Waiter[] = [];
  /** The latest status the controller wrote, and markers since the v1 lock. */
  private status: NonNullable<DatastoreMigration["status"]> = {};
  /** The latest status write was made while the CR was being deleted. */
  private deleting = false;
  private postDrainSeen = false;
  private doorSinceLock = false;
  private doorEdit = false;
  /** The CR was last marked in step by a final delta (Migrating then only verifies). */
  private inStep = false;
  private betweenPages = false;
  /** Set from the moment a kill is decided until the next controller is launched. */
  private dying = false;
  private starts = 0;

  private constructor(private readonly options: CrashLoopOptions) {
    this.random = prng(options.seed);
  }

  /** Starts the proxy and the first controller process. */
  static async start(options: CrashLoopOptions): Promise<CrashLoop> {
    const loop = new CrashLoop(options);
    const cp = await proxyForCluster(options.cluster, { seed: options.seed, onRequest: (r) => loop.observe(r) });
    loop.proxy = cp.proxy;
    loop.kubeconfig = cp.kubeconfig;
    loop.launch();
    return loop;
  }

  /** Counts of crashes by classified step. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.crashes) out[c.step] = (out[c.step] ?? 0) + 1;
    return out;
  }

  /** The status the controller wrote last (what it believes the phase is). */
  get lastStatus(): NonNullable<DatastoreMigration["status"]> {
    return this.status;
  }

  /**
   * Kills the controller at `step` (see the module comment); resolves once it runs again. Arm it
   * before the step begins. For abort, rollback and cleanup, the kill comes at the nth (seeded,
   * 1..maxNth) request of the step.
   */
  async crashAt(step: CrashStep, options: { maxNth?: number } = {}): Promise<CrashRecord> {
    const r = this.random;
    const nth = (max: number) => {
      let left = r.between(1, max);
      return (pred: (x: ProxiedRequest) => boolean) => (x: ProxiedRequest) => pred(x) && --left === 0;
    };
    const migrating = () => this.status.phase === "Migrating";
    // After a final delta (the CR marked in-step) Migrating only verifies.
    const copying = () => migrating() && !this.inStep && !(this.status.progress?.completedTypes === this.status.progress?.totalTypes && this.status.progress?.currentType === "");
    const unlocked = () => (this.status.phase ?? "Pending") === "Pending" && !this.status.datastoreLockedAt;
    const lockedPending = () => (this.status.phase ?? "Pending") === "Pending" && !!this.status.datastoreLockedAt;
    switch (step) {
      case "planner":
        // The plan's one-item lists of every v1 kind, or its dry-run creates (only without the pre-copy, whose writes validate).
        return this.killOn(step, nth(10)((x) => unlocked() && ((x.method === "POST" && x.query.get("dryRun") === "All") || (isV1List(x) && x.query.get("limit") === "1"))));
      case "precopy":
        return this.killOn(step, nth(60)((x) => unlocked() && x.method === "POST" && v3StorageVersion(x) === "v3migration"));
      case "final-delta":
        return this.killOn(step, nth(4)((x) => lockedPending() && v3StorageVersion(x) === "v3migration"));
      case "door-close":
        return this.killOn(step, nth(10)((x) => this.status.phase === "Converged" && isDoorEdit(x)));
      case "drain": {
        await this.waitFor((x) => isStatusWrite(x) && !!writtenStatus(x).datastoreLockedAt && (writtenStatus(x).phase ?? "Pending") === "Pending", false);
        const drainMs = this.options.drainMs ?? 4000;
        return this.killAfter(step, r.between(200, Math.max(300, drainMs - 1500)));
      }
      case "lock-to-apiservice-delete":
        return this.killOn(step, (x) => x.method === "DELETE" && x.path.endsWith("/apiservices/v3.projectcalico.org"));
      case "mid-kind":
        return this.killOn(step, nth(60)((x) => copying() && isV3Create(x)));
      case "mid-page":
        return this.killOn(step, (x) => copying() && isV1List(x) && x.query.has("continue"));
      case "verification":
        return this.killOn(step, (x) => migrating() && !copying() && isV1Read(x));
      case "converged":
        await this.waitFor((x) => isStatusWrite(x) && writtenStatus(x).phase === "Converged", false);
        return this.killAfter(step, r.between(300, 1500));
      case "abort":
        // Armed before the CR is deleted: an earlier migration's deletion does not count.
        this.deleting = false;
        // Only what the abort writes: its status message, v3 deletions, the APIService, the
        // locks, foreign owner references and the finalizer.
        return this.killOn(step, nth(options.maxNth ?? 3)((x) => this.deleting && x.method !== "GET" && !x.watch && (isStatusWrite(x) ||
          x.path.startsWith("/apis/projectcalico.org/v3/") || x.path.includes("/apiservices") || x.path.includes("/clusterinformations/") ||
          x.path.includes("/configmaps/") || /\/datastoremigrations\/[^/]+$/.test(x.path))));
      case "rollback":
        // Armed before the CR is deleted. A deletion at Converged that was judged safe deletes
        // this migration's v3 copies: the kill comes at the nth (seeded, 1..maxNth) of them.
        this.deleting = false;
        return this.killOn(step, nth(options.maxNth ?? 20)((x) => this.deleting && this.status.phase === "Converged" && x.method === "DELETE" &&
          x.path.startsWith("/apis/projectcalico.org/v3/") && !x.path.includes("/clusterinformations/")));
      case "cleanup":
        return this.killOn(step, nth(options.maxNth ?? 8)((x) => x.method === "DELETE" && /customresourcedefinitions\/[a-z]+\.crd\.projectcalico\.org$/.test(x.path)));
      default: {
        const never: never = step;
        throw new Error(`unknown step ${String(never)}`);
      }
    }
  }

  /** Kills the controller at a seeded random point within `maxMs` of its first request; resolves once it runs again. */
  async crashRandomly(maxMs: number): Promise<CrashRecord> {
    await this.waitFor(() => true, false);
    return this.killAfter("random", this.random.between(100, maxMs));
  }

  /** Stops the controller and the proxy. */
  async stop(): Promise<void> {
    await this.controller?.kill();
    await this.proxy?.stop();
  }

  private launch(): void {
    this.dying = false;
    this.starts++;
    this.controller = new ControllerProcess(this.kubeconfig, {
      drainPeriod: `${this.options.drainMs ?? 4000}ms`, restoreQuiet: formatDuration(DEFAULT_CONFIG.restoreQuietMs), name: `crash-loop#${this.starts}`, extraArgs: this.options.extraArgs,
    });
  }

  private observe(r: ProxiedRequest): "drop" | undefined {
    // Requests a controller that is being killed still gets out neither count nor reach the server.
    if (this.dying) return "drop";
    if (isStatusWrite(r)) {
      const s = writtenStatus(r);
      if (!s.datastoreLockedAt) {
        this.postDrainSeen = false;
        this.doorSinceLock = false;
      }
      this.status = s;
      this.deleting = Boolean((r.body as DatastoreMigration | undefined)?.metadata?.deletionTimestamp);
    }
    if (this.status.datastoreLockedAt && isPostDrainWork(r)) this.postDrainSeen = true;
    if (this.status.datastoreLockedAt && v3StorageVersion(r) === "v3migration") this.doorSinceLock = true;
    if (isMigrationPatch(r)) {
      const state = ((r.body ?? {}) as DatastoreMigration).metadata?.annotations?.[Names.precopy];
      if (state !== undefined) this.inStep = state === "in-step";
    }
    if (!r.watch) this.doorEdit = isDoorEdit(r);
    // The copy reads the next page ahead while it creates the current one's objects, so "between
    // pages" means the last request sent was a page fetch, not merely that one is outstanding.
    if (!r.watch) this.betweenPages = isV1List(r) && r.query.has("continue");
    const w = this.waiters.find((x) => x.match(r));
    if (!w) return undefined;
    this.waiters = this.waiters.filter((x) => x !== w);
    if (w.kill) {
      this.dying = true;
      this.controller.kill().catch(() => undefined);
    }
    w.resolve(r);
    return w.kill ? "drop" : undefined;
  }

  private waitFor(match: (r: ProxiedRequest) => boolean, kill: boolean): Promise<ProxiedRequest> {
    const timeoutMs = this.options.stepTimeoutMs ?? 180_000;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { match, kill, resolve: (r) => (clearTimeout(timer), resolve(r)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== waiter);
        reject(new Error(`crash loop: the awaited request did not come within ${timeoutMs} ms (last status: ${this.status.phase ?? "-"} "${this.status.message ?? ""}")`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private async killOn(trigger: CrashStep, match: (r: ProxiedRequest) => boolean): Promise<CrashRecord> {
    await this.waitFor(match, true);
    return this.record(trigger);
  }

  private async killAfter(trigger: CrashStep | "random", ms: number): Promise<CrashRecord> {
    await new Promise((r) => setTimeout(r, ms));
    this.dying = true;
    await this.controller.kill();
    return this.record(trigger);
  }

  /** Classifies the crash that just happened and starts the controller again. */
  private async record(trigger: CrashStep | "random"): Promise<CrashRecord> {
    await this.controller.kill();
    const admin = this.options.cluster.admin;
    const dm = await getMigration(admin);
    const apiServicePresent = (await getAggregatedApiService(admin)) !== undefined;
    const step = classifyCrash({ dm, apiServicePresent, postDrainSeen: this.postDrainSeen, betweenPages: this.betweenPages, doorSinceLock: this.doorSinceLock, doorEdit: this.doorEdit });
    const rec: CrashRecord = { n: this.crashes.length + 1, trigger, step, phase: dm?.status?.phase ?? (dm ? "Pending" : "(gone)"), message: dm?.status?.message ?? "" };
    this.crashes.push(rec);
    this.options.log?.(`crash #${rec.n}: trigger ${trigger}, hit ${step} (phase ${rec.phase}: ${rec.message.slice(0, 100)})`);
    this.launch();
    return rec;
  }
}
