/**
 * Writes v1 changes at a steady rate while a migration pre-copies, as Calico's components would:
 * IPAM handles allocated and released and IPAM blocks updated in v1 storage (calico-node's IPAM
 * code writes there), policies updated and network sets deleted through the live Calico API
 * server (users and operators). It pauses while the v1 datastore is locked, records what each
 * changed object must look like in v3 at the end, and checks it there once the migration is done.
 */
import { CLUSTER_INFORMATION_V1, kindByName, v1Resource, v3Resource, type CalicoKind } from "../../src/calico/kinds.js";
import type { KubeClient } from "../../src/kube/client.js";
import { isNotFound } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { writeV1 } from "./v1-writer.js";

const kind = (name: string): CalicoKind => {
  const k = kindByName(name);
  if (!k) throw new Error(`unknown kind ${name}`);
  return k;
};
const HANDLE = kind("IPAMHandle");
const BLOCK = kind("IPAMBlock");
const GNP = kind("GlobalNetworkPolicy");
const GNS = kind("GlobalNetworkSet");

/** What one changed object must be in v3 at the end: absent, or with a spec field at a value. */
interface Expectation {
  kind: CalicoKind;
  name: string;
  present: boolean;
  field?: string;
  value?: unknown;
}

/** Counts of what the churn wrote. */
export interface ChurnCounts {
  allocated: number;
  released: number;
  blocksUpdated: number;
  policiesUpdated: number;
  deleted: number;
  failed: number;
}

/** The churn writer; `run` until `stop()`, then `check` after the migration. */
export class Churn {
  readonly counts: ChurnCounts = { allocated: 0, released: 0, blocksUpdated: 0, policiesUpdated: 0, deleted: 0, failed: 0 };
  private readonly expected = new Map<string, Expectation>();
  private readonly handles: string[] = [];
  private blocks: string[] = [];
  private policies: string[] = [];
  private sets: string[] = [];
  private stopped = false;
  private seq = 0;

  constructor(private readonly client: KubeClient, private readonly rate: number) {}

  /** Changed objects recorded. */
  get changed(): number {
    return this.expected.size;
  }

  stop(): void {
    this.stopped = true;
  }

  /** Writes at `rate` changes per second until stopped, skipping while v1 is locked. */
  async run(): Promise<void> {
    this.blocks = await this.names(v1Resource(BLOCK), 2000);
    this.policies = await this.names(v3Resource(GNP), 2000);
    this.sets = await this.names(v3Resource(GNS), 2000);
    const interval = 1000 / this.rate;
    let next = Date.now();
    let lockedCheckedAt = 0;
    let locked = false;
    const inFlight = new Set<Promise<void>>();
    while (!this.stopped) {
      if (Date.now() - lockedCheckedAt > 500) {
        lockedCheckedAt = Date.now();
        locked = await this.v1Locked();
      }
      if (!locked && inFlight.size < 16) {
        const p = this.one(this.seq++).catch(() => void this.counts.failed++).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      next += interval;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    await Promise.all(inFlight);
  }

  /** Checks every changed object in v3; returns the ones that are not as expected. */
  async check(): Promise<string[]> {
    const wrong: string[] = [];
    for (const [key, e] of this.expected) {
      let obj: KubeObject | undefined;
      try {
        obj = await this.client.get(v3Resource(e.kind), e.name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (!e.present) {
        if (obj) wrong.push(`${key}: deleted in v1, present in v3`);
        continue;
      }
      if (!obj) wrong.push(`${key}: missing in v3`);
      else if (e.field && (obj.spec as Record<string, unknown> | undefined)?.[e.field] !== e.value) wrong.push(`${key}: spec.${e.field} is ${JSON.stringify((obj.spec as Record<string, unknown> | undefined)?.[e.field])}, expected ${JSON.stringify(e.value)}`);
    }
    return wrong;
  }

  private async names(ref: ReturnType<typeof v3Resource>, max: number): Promise<string[]> {
    const out: string[] = [];
    for await (const o of this.client.listItems(ref, { limit: 500, metadataOnly: true })) {
      out.push(o.metadata.name ?? "");
      if (out.length >= max) break;
    }
    return out;
  }

  private async v1Locked(): Promise<boolean> {
    try {
      return ((await this.client.get(CLUSTER_INFORMATION_V1, "default")).spec as { datastoreReady?: boolean }).datastoreReady === false;
    } catch {
      return true;
    }
  }

  private record(e: Expectation): void {
    this.expected.set(`${e.kind.kind}/${e.name}`, e);
  }

  private async one(i: number): Promise<void> {
    const pick = i % 20;
    if (pick < 7) {
      // IPAM allocation: a new handle in v1 storage.
      const name = `churn-${i.toString(36)}`;
      await writeV1(this.client, { kind: "IPAMHandle", metadata: { name }, spec: { handleID: name, block: { "10.96.0.0/26": 1 }, deleted: false } });
      this.handles.push(name);
      this.record({ kind: HANDLE, name, present: true });
      this.counts.allocated++;
    } else if (pick < 10 && this.handles.length > 0) {
      // IPAM release of one of ours.
      const name = this.handles.splice(i % this.handles.length, 1)[0] ?? "";
      await this.client.delete(v1Resource(HANDLE), name);
      this.record({ kind: HANDLE, name, present: false });
      this.counts.released++;
    } else if (pick < 14 && this.blocks.length > 0) {
      // A block's sequence number moves, as an allocation does.
      const name = this.blocks[i % this.blocks.length] ?? "";
      const cr = await this.client.get(v1Resource(BLOCK), name);
      const spec = { ...(cr.spec as Record<string, unknown>), sequenceNumber: Number((cr.spec as { sequenceNumber?: number }).sequenceNumber ?? 0) + 1 };
      await this.client.update(v1Resource(BLOCK), { ...cr, spec });
      this.record({ kind: BLOCK, name, present: true, field: "sequenceNumber", value: spec.sequenceNumber });
      this.counts.blocksUpdated++;
    } else if (pick < 19 && this.policies.length > 0) {
      // A policy's order changes, through the Calico API server.
      const name = this.policies[i % this.policies.length] ?? "";
      const order = 1 + (i % 997);
      await this.client.patch(v3Resource(GNP), name, { spec: { order } }, "merge");
      this.record({ kind: GNP, name, present: true, field: "order", value: order });
      this.counts.policiesUpdated++;
    } else if (this.sets.length > 0) {
      const name = this.sets.pop() ?? "";
      await this.client.delete(v3Resource(GNS), name);
      this.record({ kind: GNS, name, present: false });
      this.counts.deleted++;
    }
  }
}
