/**
 * A realistic small Calico cluster in API-server mode, for the demo: tiers, default-tier policies
 * stored under legacy `default.` names, staged policies, IP pools, BGP configuration and peers,
 * host endpoints, network sets, IPAM blocks/handles/affinities for three nodes, a Calico owner
 * reference, and a ConfigMap owned by a Calico object.
 */
import type { KubeClient } from "../../src/kube/client.js";
import { isAlreadyExists } from "../../src/kube/errors.js";
import { kindByName, v1Resource, V3_GROUP } from "../../src/calico/kinds.js";
import { collectionPath } from "../../src/kube/resource.js";
import type { KubeObject } from "../../src/kube/object.js";
import { ownerRefTo, writeRawV1, writeV1, type V3Input, type V1WriteOptions } from "./v1-writer.js";

const NAMESPACES = { group: "", version: "v1", plural: "namespaces", namespaced: false, kind: "Namespace" } as const;
const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps", namespaced: true, kind: "ConfigMap" } as const;

async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  try {
    await client.create(NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/**
 * Creates a Calico object through the live projectcalico.org/v3 API, as a user does, and returns
 * the v1 CR the Calico API server stored for it.
 */
export async function createThroughApi(client: KubeClient, obj: V3Input): Promise<KubeObject> {
  const c = kindByName(obj.kind);
  if (!c) throw new Error(`unknown Calico kind ${obj.kind}`);
  const ref = { group: V3_GROUP, version: "v3", plural: c.v3Plural, namespaced: c.namespaced, kind: c.kind };
  await client.request("POST", collectionPath(ref, obj.metadata.namespace), { body: { apiVersion: `${V3_GROUP}/v3`, ...obj } });
  return client.get(v1Resource(c), obj.metadata.name, obj.metadata.namespace);
}

/** How the sample is written. */
export interface SeedOptions {
  /**
   * Create what users create through the live Calico API server (projectcalico.org/v3); legacy
   * `default.`-named policies and IPAM objects are still written to v1 directly, as old releases
   * and libcalico's IPAM code did. Default false: everything written to v1 storage.
   */
  throughApi?: boolean;
}

/** Seeds the sample; returns how many Calico objects it wrote. */
export async function seedSampleCluster(client: KubeClient, options: SeedOptions = {}): Promise<number> {
  let n = 0;
  const w = async (c: KubeClient, obj: V3Input, v1Options?: V1WriteOptions) => {
    n++;
    if (options.throughApi && !v1Options) return createThroughApi(c, obj);
    return writeV1(c, obj, v1Options);
  };
  for (const ns of ["shop", "payments"]) await ensureNamespace(client, ns);

  const defaultTier = await w(client, { kind: "Tier", metadata: { name: "default" }, spec: { order: 1_000_000, defaultAction: "Deny" } });
  await w(client, { kind: "Tier", metadata: { name: "kube-admin" }, spec: { order: 1_000, defaultAction: "Pass" } });
  await w(client, { kind: "Tier", metadata: { name: "kube-baseline" }, spec: { order: 10_000_000, defaultAction: "Pass" } });
  const security = await w(client, { kind: "Tier", metadata: { name: "security", labels: { team: "secops" } }, spec: { order: 100 } });
  await w(client, { kind: "Tier", metadata: { name: "platform" }, spec: { order: 200, defaultAction: "Pass" } });

  await w(client, { kind: "FelixConfiguration", metadata: { name: "default" }, spec: { logSeverityScreen: "Info", reportingInterval: "0s", bpfEnabled: false } });
  await w(client, { kind: "BGPConfiguration", metadata: { name: "default" }, spec: { asNumber: 64512, nodeToNodeMeshEnabled: true, logSeverityScreen: "Info" } });
  await w(client, { kind: "KubeControllersConfiguration", metadata: { name: "default" }, spec: { controllers: { node: { reconcilerPeriod: "5m" } } } });

  await w(client, { kind: "IPPool", metadata: { name: "default-ipv4-ippool" }, spec: { cidr: "10.244.0.0/16", blockSize: 26, ipipMode: "Always", natOutgoing: true, nodeSelector: "all()" } });
  await w(client, { kind: "IPPool", metadata: { name: "default-ipv6-ippool" }, spec: { cidr: "fd00:10:244::/64", blockSize: 122, natOutgoing: false, nodeSelector: "all()" } });
  await w(client, { kind: "IPReservation", metadata: { name: "reserved-gateways" }, spec: { reservedCIDRs: ["10.244.0.1/32"] } });
  await w(client, { kind: "BGPPeer", metadata: { name: "tor-rack-1" }, spec: { peerIP: "192.0.2.1", asNumber: 64513, nodeSelector: "rack == 'r1'" } });
  await w(client, { kind: "BGPFilter", metadata: { name: "export-pods-only" }, spec: { exportV4: [{ action: "Accept", matchOperator: "In", cidr: "10.244.0.0/16" }] } });

  // Default-tier policies stored the pre-v3.30 way: CR name "default.<name>", no name in the metadata annotation.
  await w(client, { kind: "GlobalNetworkPolicy", metadata: { name: "deny-all-ingress", ownerReferences: [ownerRefTo(defaultTier, "Tier")] }, spec: { tier: "default", selector: "all()", types: ["Ingress"], order: 1000 } },
    { crName: "default.deny-all-ingress", omitNameInAnnotation: true });
  await w(client, { kind: "GlobalNetworkPolicy", metadata: { name: "security.block-metadata" }, spec: { tier: "security", selector: "all()", order: 10, egress: [{ action: "Deny", destination: { nets: ["169.254.169.254/32"] } }, { action: "Pass" }], types: ["Egress"] } });
  await w(client, { kind: "NetworkPolicy", metadata: { name: "allow-frontend", namespace: "shop" }, spec: { tier: "default", selector: "app == 'frontend'", ingress: [{ action: "Allow", protocol: "TCP", destination: { ports: [8080] } }] } },
    { crName: "default.allow-frontend", omitNameInAnnotation: true });
  await w(client, { kind: "NetworkPolicy", metadata: { name: "allow-payments-api", namespace: "payments", labels: { owner: "payments" } }, spec: { tier: "default", selector: "app == 'api'", ingress: [{ action: "Allow", source: { namespaceSelector: "kubernetes.io/metadata.name == 'shop'" } }] } });
  await w(client, { kind: "StagedGlobalNetworkPolicy", metadata: { name: "platform.default-deny" }, spec: { tier: "platform", selector: "all()", stagedAction: "Set", types: ["Ingress", "Egress"] } });
  await w(client, { kind: "StagedNetworkPolicy", metadata: { name: "lockdown", namespace: "payments" }, spec: { tier: "default", selector: "all()", stagedAction: "Set", types: ["Ingress"] } });
  await w(client, { kind: "StagedKubernetesNetworkPolicy", metadata: { name: "knp-trial", namespace: "shop" }, spec: { stagedAction: "Set", podSelector: {}, policyTypes: ["Ingress"] } });

  await w(client, { kind: "HostEndpoint", metadata: { name: "node-1-eth0", labels: { role: "ingress" } }, spec: { node: "node-1", interfaceName: "eth0", expectedIPs: ["192.0.2.11"] } });
  await w(client, { kind: "GlobalNetworkSet", metadata: { name: "blocked-ranges", labels: { "block": "true" } }, spec: { nets: ["198.51.100.0/24", "203.0.113.0/24"] } });
  await w(client, { kind: "NetworkSet", metadata: { name: "partners", namespace: "payments" }, spec: { nets: ["192.0.2.128/25"] } });
  await w(client, { kind: "CalicoNodeStatus", metadata: { name: "node-1-status" }, spec: { node: "node-1", classes: ["Agent", "BGP"], updatePeriodSeconds: 10 } });

  // IPAM, written by the IPAM code the way libcalico stores it (no v3 metadata annotation).
  await writeRawV1(client, "IPAMConfiguration", { metadata: { name: "default" }, spec: { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 } });
  n++;
  for (const [i, node] of ["node-1", "node-2", "node-3"].entries()) {
    const cidr = `10.244.${i}.0/26`;
    await writeRawV1(client, "BlockAffinity", {
      metadata: { name: `${node}-10-244-${i}-0-26`, labels: { "projectcalico.org/hostname-hash": `h${i}`, "projectcalico.org/affinity-type": "host", "projectcalico.org/ip-version": "4" } },
      spec: { state: "confirmed", node, type: "host", cidr, deleted: "false" },
    });
    const handle = `k8s-pod-network.${(i + 1).toString(16).repeat(8)}`;
    await writeRawV1(client, "IPAMBlock", {
      metadata: { name: `10-244-${i}-0-26` },
      spec: {
        cidr, affinity: `host:${node}`, strictAffinity: false,
        allocations: [0, null, 1, ...Array(61).fill(null)],
        unallocated: Array.from({ length: 61 }, (_, k) => k + 3).concat([1]),
        attributes: [
          { handle_id: handle, secondary: { node, namespace: "shop", pod: `frontend-${i}` } },
          { handle_id: `ipip-tunnel-addr-${node}`, secondary: { node, type: "ipipTunnelAddress" } },
        ],
        sequenceNumber: 3, sequenceNumberForAllocation: { "0": 1, "2": 2 }, deleted: false,
      },
    });
    await writeRawV1(client, "IPAMHandle", { metadata: { name: handle }, spec: { handleID: handle, block: { [cidr]: 1 }, deleted: false } });
    n += 3;
  }

  // A non-Calico object owned by a Calico one: the GC would delete it after a naive migration.
  try {
    await client.create(CONFIGMAPS, {
      apiVersion: "v1", kind: "ConfigMap",
      metadata: { name: "security-tier-runbook", namespace: "default", ownerReferences: [ownerRefTo(security, "Tier")] },
      data: { runbook: "Page #secops before changing the security tier." },
    });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  return n;
}
