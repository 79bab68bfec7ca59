/**
 * Proves that normalisation matches what the API server does: every golden v3 object is created
 * in native v3 CRD storage (schema defaulting, CEL validation and Calico's admission policies all
 * active), read back, and compared with the golden object using the schemas read from the cluster.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { CALICO_KINDS, v3Resource } from "../../src/calico/kinds.js";
import { specDiff, serverSpec } from "../../src/convert/normalize.js";
import { SchemaSet } from "../../src/convert/schema.js";
import { canonical } from "../../src/convert/structural.js";
import type { KubeClient } from "../../src/kube/client.js";
import { hasCode } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { collectionPath, objectPath } from "../../src/kube/resource.js";
import { CRD_RESOURCE } from "../harness/apply.js";
import { installApiServerMode, NAMESPACES } from "../harness/api-server-mode.js";
import { eventually } from "../harness/eventually.js";
import { privateCluster } from "../harness/shared-cluster.js";
import { loadGoldenCases } from "../fixtures/golden/golden-cases.js";

const cases = loadGoldenCases().sort((a, b) => a.kind.order - b.kind.order || a.file.localeCompare(b.file));
// Started at the top level: privateCluster registers an `after` hook that stops the cluster, and
// one registered from inside a `before` hook would run as soon as that hook ends.
// No kube-controller-manager: objects are created without their owners, and no GC should act on them.
const cp = await privateCluster({ controllerManager: false });
const client: KubeClient = cp.admin;
let schemas: SchemaSet;

/** The golden object as a create request: no uid, timestamps or owner references (the owners do not exist here). */
function createBody(expected: KubeObject): KubeObject {
  const body = structuredClone(expected);
  delete body.metadata.uid;
  delete body.metadata.creationTimestamp;
  delete body.metadata.ownerReferences;
  return body;
}

/**
 * Creates with strict field validation (a golden object with a field the v3 schema does not know
 * is an error). The admission policies answer 503 "Resource kind … not found" until the API server
 * has published the new CRDs' schemas to them; only that is retried.
 */
async function createWhenAdmissionReady(path: string, body: KubeObject): Promise<void> {
  let fatal: Error | undefined;
  await eventually(
    async () => {
      try {
        await client.request("POST", path, { body, query: { fieldValidation: "Strict" } });
      } catch (err) {
        if (hasCode(err, 503)) throw err;
        fatal = err instanceof Error ? err : new Error(JSON.stringify(err));
      }
    },
    { timeoutMs: 60_000, message: `create ${path}` },
  );
  if (fatal !== undefined) throw fatal;
}

describe("v3 round trip of the golden objects", () => {
  before(async () => {
    // No aggregated APIService at all: v3 is CRD storage from the start, as in a cluster installed natively.
    await installApiServerMode(client, { apiService: false, components: false, clusterInformation: false, calicoApiServer: "unavailable" });
    schemas = SchemaSet.fromCrds(await client.listAll(CRD_RESOURCE));
    const namespaces = new Set(cases.map((c) => c.expected.metadata.namespace).filter((ns): ns is string => !!ns));
    for (const name of namespaces) await client.create(NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
    // Calico's mutating admission policies (tier and types defaults) take effect a moment after
    // they are created, and until then a create is stored unmutated: wait until a dry run is mutated.
    const probe = { apiVersion: "projectcalico.org/v3", kind: "GlobalNetworkPolicy", metadata: { name: "admission-probe" }, spec: { tier: "", selector: "all()", ingress: [{ action: "Allow" }] } };
    await eventually(async () => {
      const answer = await client.request<KubeObject>("POST", collectionPath(v3Resource(CALICO_KINDS.find((k) => k.kind === "GlobalNetworkPolicy")!), undefined), { body: probe, query: { dryRun: "All" } });
      const spec = answer.spec as { tier?: string; types?: string[] };
      assert.deepEqual([spec.tier, spec.types], ["default", ["Ingress"]], "the mutating admission policies are in force");
    }, { timeoutMs: 60_000, message: "Calico's mutating admission policies in force" });
  });

  test("the schemas read from the cluster cover every migrated kind", () => {
    for (const c of CALICO_KINDS) assert.ok(schemas.forKind(c.kind), c.kind);
  });

  for (const c of cases) {
    test(`round trip ${c.file}: the stored spec normalises equal to the golden one`, async () => {
      const ref = v3Resource(c.kind);
      const ns = c.expected.metadata.namespace;
      await createWhenAdmissionReady(collectionPath(ref, ns), createBody(c.expected));
      const stored = await client.request<KubeObject>("GET", objectPath(ref, c.expected.metadata.name ?? "", ns));
      const schema = schemas.require(c.kind.kind);
      assert.deepEqual(specDiff(c.kind, c.expected.spec, stored.spec, schema), []);
      // Stronger: the server's stored spec is exactly what serverSpec predicts (before omit-empty).
      assert.deepEqual(canonical(stored.spec), serverSpec(c.kind, c.expected.spec, schema));
    });
  }
});
