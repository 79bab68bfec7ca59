/**
 * The drain: after v1 is locked, the controller waits this long before unregistering the
 * APIService, so writes already in flight land in v1 before it is read (Calico's default, 10 s).
 * One constant for the controller's flag, its configuration and the planner's estimate.
 */

/** Calico's default drain period, in milliseconds. */
export const DEFAULT_DRAIN_PERIOD_MS = 10_000;
