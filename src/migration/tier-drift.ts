/**
 * Built-in tier pre-flight: the v3 Tier CRD pins order and defaultAction of `default`,
 * `kube-admin` and `kube-baseline`; a drifted v1 tier would fail its create inside the locked
 * window, so it is found (with Calico's exact messages) before anything is locked.
 */
import { kindByName, v1Resource } from "../calico/kinds.js";
import { TIER_DEFAULTS } from "../convert/convert.js";
import type { KubeClient } from "../kube/client.js";

/** The pinned values of the built-in tiers. */
export const BUILTIN_TIERS: Readonly<Record<string, { order: number; defaultAction: string }>> = {
  default: { order: 1_000_000, defaultAction: "Deny" },
  "kube-admin": { order: 1_000, defaultAction: "Pass" },
  "kube-baseline": { order: 10_000_000, defaultAction: "Pass" },
};

/** Prefix of the status message while tiers drift. */
export const TIER_DRIFT_PREFIX = "Correct the following v1 tiers before migration can start: ";

/** Drift messages for the given v1 tier CRs (defaults applied as on read), sorted. */
export function tierDrift(tiers: readonly { metadata: { name?: string }; spec?: unknown }[]): string[] {
  const out: string[] = [];
  for (const t of tiers) {
    const name = t.metadata.name ?? "";
    const want = BUILTIN_TIERS[name];
    if (!want) continue;
    const spec = (t.spec ?? {}) as { order?: number | null; defaultAction?: string | null };
    const order = spec.order ?? TIER_DEFAULTS.order;
    const action = spec.defaultAction ?? TIER_DEFAULTS.defaultAction;
    if (order !== want.order) out.push(`tier "${name}" must have order ${want.order}`);
    if (action !== want.defaultAction) out.push(`tier "${name}" must have defaultAction "${want.defaultAction}"`);
  }
  return out.sort();
}

/** Reads the v1 tiers and returns their drift messages. */
export async function checkTierDrift(client: KubeClient): Promise<string[]> {
  const tier = kindByName("Tier");
  if (!tier) return [];
  const tiers = [];
  for (const name of Object.keys(BUILTIN_TIERS)) {
    try {
      tiers.push(await client.get(v1Resource(tier), name));
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }
  return tierDrift(tiers);
}

/** The status message for drift messages. */
export function tierDriftMessage(drift: readonly string[]): string {
  return TIER_DRIFT_PREFIX + drift.join("; ");
}
