/**
 * Our DatastoreMigration CRD (manifests/crd) against Calico's published one
 * (../shared/calico/migration.projectcalico.org_datastoremigrations.yaml): the same versions,
 * schemas and printer columns, so either can be installed under the other's CRs; then the
 * schema's rules on a real API server; then our TypeScript types against the schema.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  DATASTORE_MIGRATION_CRD, MIGRATION_VERSIONS, migrationResource, PHASES, type DatastoreMigration, type DatastoreMigrationStatus,
} from "../../src/api/datastore-migration.js";
import type { KubeClient } from "../../src/kube/client.js";
import { Discovery } from "../../src/kube/discovery.js";
import { ApiError, isNotFound } from "../../src/kube/errors.js";
import type { KubeObject } from "../../src/kube/object.js";
import { CRDS } from "../../src/migration/prerequisites.js";
import { waitEstablished } from "../harness/apply.js";
import { installControllerManifests, loadManifests } from "../harness/controller.js";
import { sharedCluster, type TestCluster } from "../harness/shared-cluster.js";
import { loadShared, SHARED_FILES } from "../harness/shared-manifests.js";

interface Schema {
  properties?: Record<string, Schema>;
  items?: Schema;
  [key: string]: unknown;
}
interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  schema: { openAPIV3Schema: Schema };
  subresources?: unknown;
  additionalPrinterColumns?: unknown[];
}
interface CrdSpec {
  group: string;
  names: unknown;
  scope: string;
  versions: CrdVersion[];
}

const ours = (loadManifests("crd")[0] as KubeObject & { spec: CrdSpec }).spec;
const calicos = (loadShared(SHARED_FILES.migrationCrd)[0] as KubeObject & { spec: CrdSpec }).spec;

function byName(spec: CrdSpec): Map<string, CrdVersion> {
  return new Map(spec.versions.map((v) => [v.name, v]));
}

function withoutDescriptions(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutDescriptions);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).filter(([k]) => k !== "description").map(([k, x]) => [k, withoutDescriptions(x)]));
  return v;
}

/** Every field path of a schema (`status.progress.typeDetails[].kind`), objects and arrays walked. */
function schemaPaths(schema: Schema, prefix: string): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}.${key}`;
    out.push(path);
    if (child.items) out.push(...schemaPaths(child.items, `${path}[]`));
    else out.push(...schemaPaths(child, path));
  }
  return out;
}

/** The same paths of a sample value. */
function valuePaths(value: unknown, prefix: string): string[] {
  const out: string[] = [];
  if (!value || typeof value !== "object" || Array.isArray(value)) return out;
  for (const [key, child] of Object.entries(value)) {
    const path = `${prefix}.${key}`;
    out.push(path);
    out.push(...(Array.isArray(child) ? child.flatMap((c) => valuePaths(c, `${path}[]`)) : valuePaths(child, path)));
  }
  return out;
}

type DeepRequired<T> = T extends (infer U)[] ? DeepRequired<U>[] : T extends object ? { [K in keyof T]-?: DeepRequired<T[K]> } : T;

/** Every field of our status type, each one required here, so the compiler rejects a sample that misses one. */
const STATUS_SAMPLE: DeepRequired<DatastoreMigrationStatus> = {
  phase: "Migrating",
  message: "",
  datastoreLockedAt: "",
  startedAt: "",
  completedAt: "",
  progress: {
    totalTypes: 0, completedTypes: 0, typeProgress: "", currentType: "", total: 0, migrated: 0, skipped: 0, conflicts: 0,
    typeDetails: [{ kind: "Tier", migrated: 0, skipped: 0, conflicts: 0 }],
  },
  conditions: [{ type: "Conflict", status: "True", reason: "ResourceMismatch", message: "", lastTransitionTime: "", observedGeneration: 0 }],
};
const SPEC_SAMPLE: DeepRequired<DatastoreMigration["spec"]> = { type: "APIServerToCRDs" };

describe("DatastoreMigration CRD: ours and Calico's", () => {
  test("the same group, names, scope and versions: v1 served and stored, v1beta1 served and deprecated with Calico's warning", () => {
    assert.deepEqual({ group: ours.group, names: ours.names, scope: ours.scope }, { group: calicos.group, names: calicos.names, scope: calicos.scope });
    const flags = (s: CrdSpec) => s.versions.map((v) => ({ name: v.name, served: v.served, storage: v.storage, deprecated: v.deprecated ?? false, deprecationWarning: v.deprecationWarning })).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(flags(ours), flags(calicos));
    assert.deepEqual(flags(ours), [
      { name: "v1", served: true, storage: true, deprecated: false, deprecationWarning: undefined },
      { name: "v1beta1", served: true, storage: false, deprecated: true, deprecationWarning: "migration.projectcalico.org/v1beta1 DatastoreMigration is deprecated; use migration.projectcalico.org/v1" },
    ]);
  });

  test("the same schemas, descriptions aside, and the same status subresource", () => {
    const theirs = byName(calicos);
    for (const v of ours.versions) {
      const t = theirs.get(v.name);
      assert.ok(t, `Calico serves ${v.name}`);
      assert.deepEqual(withoutDescriptions(v.schema), withoutDescriptions(t.schema), `schema of ${v.name}`);
      assert.deepEqual(v.subresources, t.subresources, `subresources of ${v.name}`);
    }
    // The one rule that differs between the versions: spec.type is immutable in v1 only.
    const rule = (name: string) => byName(ours).get(name)?.schema.openAPIV3Schema.properties?.spec?.properties?.type?.["x-kubernetes-validations"];
    assert.deepEqual(rule("v1"), [{ message: "spec.type is immutable", rule: "self == oldSelf" }]);
    assert.equal(rule("v1beta1"), undefined);
  });

  test("the same printer columns on both versions", () => {
    const theirs = byName(calicos);
    for (const v of ours.versions) assert.deepEqual(v.additionalPrinterColumns, theirs.get(v.name)?.additionalPrinterColumns, `printer columns of ${v.name}`);
    assert.deepEqual(byName(ours).get("v1")?.additionalPrinterColumns, byName(ours).get("v1beta1")?.additionalPrinterColumns);
  });

  test("our TypeScript types name every spec and status field of the schema, and no other", () => {
    for (const v of ours.versions) {
      const root = v.schema.openAPIV3Schema.properties ?? {};
      assert.deepEqual(valuePaths(STATUS_SAMPLE, "status").sort(), schemaPaths(root.status ?? {}, "status").sort(), `status fields of ${v.name}`);
      assert.deepEqual(valuePaths(SPEC_SAMPLE, "spec").sort(), schemaPaths(root.spec ?? {}, "spec").sort(), `spec fields of ${v.name}`);
    }
    const phases = byName(ours).get("v1")?.schema.openAPIV3Schema.properties?.status?.properties?.phase?.enum;
    assert.deepEqual(phases, [...PHASES]);
  });
});

describe("DatastoreMigration CRD on a real API server", () => {
  let cluster: TestCluster;
  const v1 = migrationResource("v1");
  const v1beta1 = migrationResource("v1beta1");
  const names: string[] = [];

  async function create(name: string, version: "v1" | "v1beta1" = "v1"): Promise<DatastoreMigration> {
    names.push(name);
    const created = await cluster.admin.create(migrationResource(version), {
      apiVersion: `migration.projectcalico.org/${version}`, kind: "DatastoreMigration", metadata: { name }, spec: { type: "APIServerToCRDs" },
    });
    return created as unknown as DatastoreMigration;
  }

  function writeStatus(admin: KubeClient, name: string, status: Record<string, unknown>, version: "v1" | "v1beta1" = "v1"): Promise<KubeObject> {
    return admin.patch(migrationResource(version), name, { status }, "merge", undefined, { subresource: "status" });
  }

  /** Asserts a 422 whose first cause has this reason (and field, when given). */
  async function rejected(write: Promise<unknown>, reason: string, field?: string): Promise<void> {
    await assert.rejects(write, (err: unknown) => {
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.code, 422, err.message);
      const cause = err.status?.details?.causes?.[0];
      assert.equal(cause?.reason, reason, err.message);
      if (field) assert.equal(cause?.field, field, err.message);
      return true;
    });
  }

  before(async () => {
    cluster = await sharedCluster();
    await installControllerManifests(cluster.admin);
  });

  after(async () => {
    for (const name of names) await cluster.admin.delete(v1, name).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
  });

  test("a version counts as served only when it serves datastoremigrations, not another resource of the group", async (t) => {
    const probe = {
      apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "probes.migration.projectcalico.org" },
      spec: {
        group: "migration.projectcalico.org", scope: "Cluster", names: { kind: "Probe", listKind: "ProbeList", plural: "probes", singular: "probe" },
        versions: [{ name: "v1alpha1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
      },
    };
    await cluster.admin.create(CRDS, probe);
    t.after(() => cluster.admin.delete(CRDS, probe.metadata.name).catch(() => undefined));
    await waitEstablished(cluster.admin, [probe.metadata.name]);
    const discovery = new Discovery(cluster.admin);
    assert.equal(await discovery.serves("migration.projectcalico.org/v1alpha1", "probes"), true);
    assert.equal(await discovery.serves("migration.projectcalico.org/v1alpha1", "datastoremigrations"), false);
    assert.deepEqual(await Promise.all(MIGRATION_VERSIONS.map((v) => discovery.serves(`migration.projectcalico.org/${v}`, "datastoremigrations"))), [true, true]);
  });

  test("only v1 is a stored version", async () => {
    const crd = await cluster.admin.get(CRDS, DATASTORE_MIGRATION_CRD);
    assert.deepEqual((crd.status as { storedVersions: string[] }).storedVersions, ["v1"]);
    assert.equal((crd.spec as { conversion?: { strategy: string } }).conversion?.strategy ?? "None", "None");
  });

  test("created through v1beta1 it reads through v1, and status written through v1 reads through v1beta1", async () => {
    await create("crd-versions", "v1beta1");
    const read = (await cluster.admin.get(v1, "crd-versions")) as unknown as DatastoreMigration;
    assert.equal(read.apiVersion, "migration.projectcalico.org/v1");
    assert.equal(read.spec.type, "APIServerToCRDs");
    await writeStatus(cluster.admin, "crd-versions", { phase: "Migrating", progress: { migrated: 7 } });
    const old = (await cluster.admin.get(v1beta1, "crd-versions")) as unknown as DatastoreMigration;
    assert.equal(old.status?.phase, "Migrating");
    assert.equal(old.status?.progress?.migrated, 7);
  });

  test("spec.type cannot be changed", async () => {
    const dm = await create("crd-immutable");
    await assert.rejects(cluster.admin.update(v1, { ...(dm as unknown as KubeObject), spec: { type: "Other" } }), (err: unknown) => err instanceof ApiError && err.code === 422);
    assert.equal(((await cluster.admin.get(v1, "crd-immutable")) as unknown as DatastoreMigration).spec.type, "APIServerToCRDs");
  });

  test("every phase is accepted and any other value rejected", async () => {
    await create("crd-phases");
    for (const phase of PHASES) {
      const written = (await writeStatus(cluster.admin, "crd-phases", { phase })) as unknown as DatastoreMigration;
      assert.equal(written.status?.phase, phase);
    }
    await rejected(writeStatus(cluster.admin, "crd-phases", { phase: "Bogus" }), "FieldValueNotSupported", "status.phase");
  });

  test("several Conflict conditions are one atomic list; typeDetails merge by kind across field managers", async () => {
    await create("crd-lists");
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const conflict = (name: string) => ({ type: "Conflict", status: "True", reason: "ResourceMismatch", message: `Tier/${name}: v3 resource exists with different spec`, lastTransitionTime: now });
    const written = (await writeStatus(cluster.admin, "crd-lists", { conditions: [conflict("a"), conflict("b")] })) as unknown as DatastoreMigration;
    assert.deepEqual(written.status?.conditions?.map((c) => c.message), [conflict("a").message, conflict("b").message]);

    const apply = (manager: string, kind: string, migrated: number) => cluster.admin.patch(v1, "crd-lists", {
      apiVersion: "migration.projectcalico.org/v1", kind: "DatastoreMigration", metadata: { name: "crd-lists" },
      status: { progress: { typeDetails: [{ kind, migrated }] } },
    }, "apply", undefined, { subresource: "status", fieldManager: manager, force: true });
    await apply("writer-a", "NetworkPolicy", 1);
    const both = (await apply("writer-b", "GlobalNetworkPolicy", 2)) as unknown as DatastoreMigration;
    assert.deepEqual(both.status?.progress?.typeDetails?.map((t) => [t.kind, t.migrated]).sort(), [["GlobalNetworkPolicy", 2], ["NetworkPolicy", 1]]);
    const a = (both.metadata.managedFields as { manager: string; fieldsV1: unknown }[]).find((f) => f.manager === "writer-a");
    assert.match(JSON.stringify(a?.fieldsV1), /k:\{\\"kind\\":\\"NetworkPolicy\\"\}/);
  });

  test("the bounds are enforced: message, typeDetails, conditions, currentType, typeProgress, kind", async () => {
    await create("crd-bounds");
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    await rejected(writeStatus(cluster.admin, "crd-bounds", { message: "x".repeat(1025) }), "FieldValueTooLong", "status.message");
    await writeStatus(cluster.admin, "crd-bounds", { message: "x".repeat(1024) });
    const details = (n: number) => Array.from({ length: n }, (_, i) => ({ kind: `Kind${i}`, migrated: 0 }));
    await rejected(writeStatus(cluster.admin, "crd-bounds", { progress: { typeDetails: details(129) } }), "FieldValueTooMany", "status.progress.typeDetails");
    await writeStatus(cluster.admin, "crd-bounds", { progress: { typeDetails: details(128) } });
    const conditions = (n: number) => Array.from({ length: n }, (_, i) => ({ type: "Conflict", status: "True", reason: "ResourceMismatch", message: `Tier/t${i}: v3 resource exists with different spec`, lastTransitionTime: now }));
    await rejected(writeStatus(cluster.admin, "crd-bounds", { conditions: conditions(65) }), "FieldValueTooMany", "status.conditions");
    await writeStatus(cluster.admin, "crd-bounds", { conditions: conditions(64) });
    await rejected(writeStatus(cluster.admin, "crd-bounds", { progress: { currentType: "x".repeat(254) } }), "FieldValueTooLong", "status.progress.currentType");
    await rejected(writeStatus(cluster.admin, "crd-bounds", { progress: { typeProgress: "x".repeat(65) } }), "FieldValueTooLong", "status.progress.typeProgress");
    await rejected(writeStatus(cluster.admin, "crd-bounds", { progress: { typeDetails: [{ kind: "x".repeat(254) }] } }), "FieldValueTooLong", "status.progress.typeDetails[0].kind");
  });
});
