/**
 * Controller configuration (the `calico-migrate controller` flags) with Calico's defaults.
 */
import { DEFAULT_DRAIN_PERIOD_MS } from "../migration/drain.js";

/** Controller settings; durations in milliseconds. */
export interface ControllerConfig {
  drainPeriodMs: number;
  pollIntervalMs: number;
  leaderElect: boolean;
  /** The controller's own namespace (Lease, report). */
  namespace: string;
  lockedWarningMs: number;
  /** Where calico-node & co. run; undefined = calico-system if calico-node is there, else kube-system. */
  componentsNamespace?: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  /** Writes in flight during the copy. */
  copyConcurrency: number;
  /** Run the server-side validation in Pending (default true). */
  validate: boolean;
  /** How often the full plan may run again while blocked in Pending. */
  fullPlanIntervalMs: number;
  /**
   * How long a copy refused as forbidden (403 from an admission policy, a webhook or RBAC, which
   * can be lifted) is retried inside the locked window before the window is ended.
   */
  refusalGraceMs: number;
  /**
   * Copy every object before the lock through a temporary version of the v3 CRDs (the pre-copy),
   * so that the locked window only carries what changed since. Opt-in while it is being completed
   * (issue 11): the window still re-reads both stores.
   */
  precopy: boolean;
  /**
   * Before the verification: how long no kube-apiserver may have answered projectcalico.org/v3
   * from the Calico API server (an HA replica that has not dropped the APIService yet), so that a
   * copy the garbage collector deleted through it is seen and re-created.
   */
  settleQuietMs: number;
  /**
   * On an abort, before owner references go back: how long projectcalico.org/v3 must have been
   * answered by the Calico API server alone. Longer than settleQuietMs: Kubernetes' APIService
   * registration for the CRD group was seen serving the group locally once more about 2 s after
   * the door closed and the APIService came back.
   */
  restoreQuietMs: number;
}

/** Calico's defaults: 10 s drain, 10 s poll; ours for the rest. */
export const DEFAULT_CONFIG: ControllerConfig = Object.freeze({
  drainPeriodMs: DEFAULT_DRAIN_PERIOD_MS,
  pollIntervalMs: 10_000,
  leaderElect: false,
  namespace: "calico-datastore-migration",
  lockedWarningMs: 5 * 60_000,
  componentsNamespace: undefined,
  metricsBindAddress: ":8080",
  healthProbeBindAddress: ":8081",
  copyConcurrency: 16,
  validate: true,
  fullPlanIntervalMs: 60_000,
  refusalGraceMs: 2 * 60_000,
  precopy: true,
  settleQuietMs: 1500,
  restoreQuietMs: 10_000,
});
