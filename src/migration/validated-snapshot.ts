/**
 * What a server-side validation saw, so that only what changed since can be validated again
 * right after the drain: every v1 object handed to the validator, as a 48-bit hash of kind,
 * namespace, name and resourceVersion (opaque: compared for equality only). About 40 bytes an
 * object in memory, a few MB for 100,000, where a map of keys to resourceVersions takes ~15 MB.
 */
import { createHash } from "node:crypto";
import { CALICO_KINDS, v1Resource, type CalicoKind } from "../calico/kinds.js";
import { convertV1ToV3, type ConvertedObject } from "../convert/convert.js";
import { ConversionError } from "../convert/conversion-error.js";
import type { KubeClient } from "../kube/client.js";
import type { KubeObject } from "../kube/object.js";
import { objectKey } from "../kube/resource.js";
import { conversionFinding, type Finding } from "./findings.js";
import type { Validator } from "./planner.js";

function versionHash(kind: CalicoKind, cr: KubeObject): number {
  const m = cr.metadata;
  return createHash("sha1").update(`${kind.kind}\0${m.namespace ?? ""}\0${m.name ?? ""}\0${m.resourceVersion ?? ""}`).digest().readUIntBE(0, 6);
}

/** The v1 objects (at their resourceVersions) one validation was given. An empty snapshot counts everything as changed. */
export class ValidatedSnapshot {
  private readonly seen = new Set<number>();

  /** Records that `cr` of `kind`, as it is now, was handed to the validator. */
  add(kind: CalicoKind, cr: KubeObject): void {
    this.seen.add(versionHash(kind, cr));
  }

  /** True when `cr` is exactly the version that was validated. */
  has(kind: CalicoKind, cr: KubeObject): boolean {
    return this.seen.has(versionHash(kind, cr));
  }

  /** Objects recorded. */
  get size(): number {
    return this.seen.size;
  }
}

/** What a re-validation found. */
export interface Revalidation {
  /** v1 objects new or changed since the snapshot (each validated again). */
  changed: number;
  /** Those the v3 API would refuse, or that no longer convert. */
  blockers: Finding[];
}

/** Lists every v1 object and validates again only those not in `snapshot`. */
export async function revalidateChanged(options: { client: KubeClient; snapshot: ValidatedSnapshot; validator: Validator; pageSize?: number }): Promise<Revalidation> {
  const { client, snapshot } = options;
  const blockers: Finding[] = [];
  let changed = 0;
  async function* changedObjects(): AsyncGenerator<ConvertedObject> {
    for (const kind of CALICO_KINDS) {
      for await (const cr of client.listItems(v1Resource(kind), { limit: options.pageSize ?? 500 })) {
        if (snapshot.has(kind, cr)) continue;
        changed++;
        let converted: ConvertedObject;
        try {
          converted = convertV1ToV3(kind, cr);
        } catch (err) {
          if (!(err instanceof ConversionError)) throw err;
          blockers.push(conversionFinding(objectKey(cr.metadata.namespace, cr.metadata.name ?? ""), err));
          continue;
        }
        yield converted;
      }
    }
  }
  blockers.push(...(await options.validator(changedObjects())));
  return { changed, blockers };
}
