/**
 * A deterministic large Calico cluster in API-server mode, for the fault, crash and benchmark
 * runs: a fixed set with some of every kind (built-in and custom tiers, configurations, pools,
 * BGP, staged policies, IPAM configuration, a GNP owned by a Tier), then — up to `objects` — mostly
 * NetworkPolicies across ~10 namespaces (a fifth stored under legacy `default.` names), global
 * policies, network sets, host endpoints and IPAM block/handle/affinity triples, chosen by a
 * seeded PRNG; plus ConfigMaps owned by Calico objects (what the garbage collector must spare).
 * The v1 CRs are written with bounded concurrency.
 */
import type { KubeClient } from "../../src/kube/client.js";
import { isAlreadyExists } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { forEachConcurrent } from "../../src/migration/pool.js";
import { prng, type Prng } from "./prng.js";
import { ownerRefTo, writeRawV1, writeV1, type V1WriteOptions, type V3Input } from "./v1-writer.js";

const NAMESPACES = { group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" } as const;
export const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;

/** What to seed. */
export interface ScaleSeedOptions {
  /** Calico objects to write (at least the fixed set of about 30). */
  objects: number;
  seed: number;
  /** Namespaces for namespaced kinds. Default 10. */
  namespaces?: number;
  /** Writes in flight. Default 32. */
  concurrency?: number;
}

/** A non-Calico object owned by a Calico one. */
export interface ForeignDependent {
  namespace: string;
  name: string;
  owner: { kind: string; name: string; namespace?: string };
}

/** What was seeded. */
export interface ScaleSeedResult {
  total: number;
  byKind: Record<string, number>;
  namespaces: string[];
  /** ConfigMaps with a Calico owner reference. */
  dependents: ForeignDependent[];
  /** The v3 name of the GlobalNetworkPolicy owned by Tier `security`. */
  ownedPolicy: string;
}

type Write = { input: V3Input; options?: V1WriteOptions } | { raw: string; cr: { metadata: KubeObject["metadata"]; spec: unknown } };

const APPS = ["web", "api", "db", "cache", "queue", "worker", "auth", "search"];

function ipv4(r: Prng, prefix: string): string {
  return `${prefix}.${r.int(256)}.${r.int(256)}`;
}

/** The mixed objects for index i (one Calico object, or an IPAM triple). */
function mixed(r: Prng, i: number, namespaces: string[]): Write[] {
  const ns = r.pick(namespaces);
  const app = r.pick(APPS);
  const roll = r.next();
  if (roll < 0.55) {
    const legacy = r.chance(0.2);
    const inSecurity = !legacy && r.chance(0.15);
    const name = inSecurity ? `security.np-${i}` : `np-${i}`;
    const spec = {
      tier: inSecurity ? "security" : "default", order: r.between(1, 1000), selector: `app == '${app}'`,
      ingress: [{ action: "Allow", protocol: "TCP", source: { selector: `app == '${r.pick(APPS)}'` }, destination: { ports: [r.between(80, 9000)] } }],
      ...(r.chance(0.3) ? { egress: [{ action: "Allow", destination: { nets: [`${ipv4(r, "10")}.0/24`] } }], types: ["Ingress", "Egress"] } : {}),
    };
    const labels = r.chance(0.5) ? { owner: `team-${r.int(5)}` } : undefined;
    return [{ input: { kind: "NetworkPolicy", metadata: { name, namespace: ns, labels }, spec }, options: legacy ? { crName: `default.${name}`, omitNameInAnnotation: true } : undefined }];
  }
  if (roll < 0.63) {
    return [{ input: { kind: "GlobalNetworkPolicy", metadata: { name: `gnp-${i}` }, spec: { tier: "default", order: r.between(1, 500), selector: `app == '${app}'`, types: ["Ingress"], ingress: [{ action: r.pick(["Allow", "Deny"]) }] } } }];
  }
  if (roll < 0.71) {
    return [{ input: { kind: "NetworkSet", metadata: { name: `netset-${i}`, namespace: ns, labels: { app } }, spec: { nets: [`${ipv4(r, "172")}.0/24`, `${ipv4(r, "192")}.${r.int(256)}/32`] } } }];
  }
  if (roll < 0.75) {
    return [{ input: { kind: "GlobalNetworkSet", metadata: { name: `gns-${i}`, labels: { feed: `f${r.int(4)}` } }, spec: { nets: [`${ipv4(r, "198")}.0/24`] } } }];
  }
  if (roll < 0.78) {
    const node = `node-${r.int(50)}`;
    return [{ input: { kind: "HostEndpoint", metadata: { name: `hep-${i}`, labels: { node } }, spec: { node, interfaceName: `eth${r.int(4)}`, expectedIPs: [`${ipv4(r, "10")}.${r.int(256)}`] } } }];
  }
  if (roll < 0.80) {
    return [{ input: { kind: "StagedNetworkPolicy", metadata: { name: `snp-${i}`, namespace: ns }, spec: { tier: "default", selector: `app == '${app}'`, stagedAction: "Set", types: ["Ingress"] } } }];
  }
  if (roll < 0.82) {
    return [{ input: { kind: "StagedGlobalNetworkPolicy", metadata: { name: `sgnp-${i}` }, spec: { tier: "default", selector: "all()", stagedAction: "Set", types: ["Egress"] } } }];
  }
  if (roll < 0.84) {
    return [{ input: { kind: "StagedKubernetesNetworkPolicy", metadata: { name: `sknp-${i}`, namespace: ns }, spec: { stagedAction: "Set", podSelector: { matchLabels: { app } }, policyTypes: ["Ingress"] } } }];
  }
  return ipamTriple(r, i);
}

/** A /26 block (index i gives a unique CIDR in 10.128.0.0/9), its handle and its host affinity. */
function ipamTriple(r: Prng, i: number): Write[] {
  const cidr = `10.${128 + ((i >> 10) & 127)}.${(i >> 2) & 255}.${(i & 3) * 64}/26`;
  const cidrName = cidr.replace(/[./]/g, "-");
  const node = `node-${r.int(50)}`;
  const handle = `k8s-pod-network.${(0x10000000 + i * 7919).toString(16)}`;
  const used = r.between(1, 8);
  const allocations: (number | null)[] = Array.from({ length: 64 }, (_, k) => (k < used ? 0 : null));
  return [
    { raw: "IPAMBlock", cr: { metadata: { name: cidrName }, spec: {
      cidr, affinity: `host:${node}`, strictAffinity: false, allocations,
      unallocated: Array.from({ length: 64 - used }, (_, k) => k + used),
      attributes: [{ handle_id: handle, secondary: { node, namespace: "default", pod: `pod-${i}` } }],
      sequenceNumber: used, sequenceNumberForAllocation: Object.fromEntries(Array.from({ length: used }, (_, k) => [String(k), k])), deleted: false,
    } } },
    { raw: "IPAMHandle", cr: { metadata: { name: handle }, spec: { handleID: handle, block: { [cidr]: used }, deleted: false } } },
    { raw: "BlockAffinity", cr: { metadata: { name: `${node}-${cidrName}`, labels: { "projectcalico.org/affinity-type": "host", "projectcalico.org/ip-version": "4" } }, spec: { state: "confirmed", node, type: "host", cidr, deleted: "false" } } },
  ];
}

/** The fixed set: some of every kind, written in order (owners first). */
function fixedSet(): Write[] {
  const w = (kind: string, name: string, spec: unknown, extra: Partial<V3Input["metadata"]> = {}, options?: V1WriteOptions): Write =>
    ({ input: { kind, metadata: { name, ...extra }, spec }, options });
  return [
    w("Tier", "default", { order: 1_000_000, defaultAction: "Deny" }),
    w("Tier", "kube-admin", { order: 1_000, defaultAction: "Pass" }),
    w("Tier", "kube-baseline", { order: 10_000_000, defaultAction: "Pass" }),
    w("Tier", "platform", { order: 200, defaultAction: "Pass" }),
    w("FelixConfiguration", "default", { logSeverityScreen: "Info", reportingInterval: "0s", bpfEnabled: false }),
    w("BGPConfiguration", "default", { asNumber: 64512, nodeToNodeMeshEnabled: true, logSeverityScreen: "Info" }),
    w("KubeControllersConfiguration", "default", { controllers: { node: { reconcilerPeriod: "5m" } } }),
    w("IPPool", "default-ipv4-ippool", { cidr: "10.128.0.0/9", blockSize: 26, ipipMode: "Always", natOutgoing: true, nodeSelector: "all()" }),
    w("IPPool", "default-ipv6-ippool", { cidr: "fd00:10:244::/64", blockSize: 122, natOutgoing: false, nodeSelector: "all()" }),
    w("IPReservation", "reserved-gateways", { reservedCIDRs: ["10.128.0.1/32"] }),
    w("BGPPeer", "tor-rack-1", { peerIP: "192.0.2.1", asNumber: 64513, nodeSelector: "rack == 'r1'" }),
    w("BGPFilter", "export-pods-only", { exportV4: [{ action: "Accept", matchOperator: "In", cidr: "10.128.0.0/9" }] }),
    w("GlobalNetworkPolicy", "deny-all-ingress", { tier: "default", selector: "all()", types: ["Ingress"], order: 2000 }, {}, { crName: "default.deny-all-ingress", omitNameInAnnotation: true }),
    w("StagedGlobalNetworkPolicy", "platform.default-deny", { tier: "platform", selector: "all()", stagedAction: "Set", types: ["Ingress", "Egress"] }),
    w("HostEndpoint", "node-0-eth0", { node: "node-0", interfaceName: "eth0", expectedIPs: ["192.0.2.11"] }, { labels: { role: "ingress" } }),
    w("GlobalNetworkSet", "blocked-ranges", { nets: ["198.51.100.0/24", "203.0.113.0/24"] }, { labels: { block: "true" } }),
    w("CalicoNodeStatus", "node-0-status", { node: "node-0", classes: ["Agent", "BGP"], updatePeriodSeconds: 10 }),
    { raw: "IPAMConfiguration", cr: { metadata: { name: "default" }, spec: { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 } } },
  ];
}

async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  try {
    await client.create(NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

async function write(client: KubeClient, w: Write): Promise<KubeObject> {
  return "raw" in w ? writeRawV1(client, w.raw, w.cr) : writeV1(client, w.input, w.options);
}

function kindOf(w: Write): string {
  return "raw" in w ? w.raw : w.input.kind;
}

/** Seeds the cluster; deterministic for a given seed and object count. */
export async function seedScale(client: KubeClient, options: ScaleSeedOptions): Promise<ScaleSeedResult> {
  const r = prng(options.seed);
  const namespaces = Array.from({ length: options.namespaces ?? 10 }, (_, i) => `scale-${i}`);
  for (const ns of namespaces) await ensureNamespace(client, ns);
  const byKind: Record<string, number> = {};
  const count = (kind: string) => (byKind[kind] = (byKind[kind] ?? 0) + 1);

  // Owners that other objects reference, first and one by one.
  const security = await writeV1(client, { kind: "Tier", metadata: { name: "security", labels: { team: "secops" } }, spec: { order: 100 } });
  count("Tier");
  const ownedPolicy = "security.owned-by-tier";
  const policy = await writeV1(client, { kind: "GlobalNetworkPolicy", metadata: { name: ownedPolicy, ownerReferences: [ownerRefTo(security, "Tier")] }, spec: { tier: "security", selector: "all()", order: 10, types: ["Egress"], egress: [{ action: "Pass" }] } });
  count("GlobalNetworkPolicy");
  const netset = await writeV1(client, { kind: "NetworkSet", metadata: { name: "partners", namespace: namespaces[0] ?? "default" }, spec: { nets: ["192.0.2.128/25"] } });
  count("NetworkSet");
  for (const w of fixedSet()) {
    await write(client, w);
    count(kindOf(w));
  }

  const writes: Write[] = [];
  let planned = Object.values(byKind).reduce((a, b) => a + b, 0);
  for (let i = 0; planned < options.objects; i++) {
    let next = mixed(r, i, namespaces);
    if (planned + next.length > options.objects) next = next.slice(0, 1).filter((w) => !("raw" in w));
    if (next.length === 0) next = [{ input: { kind: "GlobalNetworkSet", metadata: { name: `gns-fill-${i}` }, spec: { nets: [`${ipv4(r, "198")}.0/24`] } } }];
    writes.push(...next);
    planned += next.length;
  }
  await forEachConcurrent(writes, options.concurrency ?? 32, async (w) => {
    await write(client, w);
    count(kindOf(w));
  });

  const ns0 = namespaces[0] ?? "default";
  const dependents = [
    { namespace: ns0, name: "runbook-security-tier", owner: { kind: "Tier", name: "security" }, ref: ownerRefTo(security, "Tier") },
    { namespace: ns0, name: "audit-owned-policy", owner: { kind: "GlobalNetworkPolicy", name: ownedPolicy }, ref: ownerRefTo(policy, "GlobalNetworkPolicy") },
    { namespace: ns0, name: "partners-contacts", owner: { kind: "NetworkSet", name: "partners", namespace: ns0 }, ref: ownerRefTo(netset, "NetworkSet") },
  ];
  for (const d of dependents) {
    try {
      await client.create(CONFIGMAPS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: d.name, namespace: d.namespace, ownerReferences: [d.ref] }, data: { note: `owned by ${d.owner.kind} ${d.owner.name}` } });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  return {
    total: Object.values(byKind).reduce((a, b) => a + b, 0),
    byKind,
    namespaces,
    dependents: dependents.map(({ namespace, name, owner }) => ({ namespace, name, owner })),
    ownedPolicy,
  };
}
