/**
 * The rules that name the step a controller crash hit, from what was observable at kill time.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DeletionDecision, Names, type DatastoreMigration, type DatastoreMigrationStatus } from "../../src/api/datastore-migration.js";
import { classifyCrash, isDoorEdit, isPostDrainWork, isV1List, isV3Create, type CrashObservation } from "../harness/crash-classify.js";
import type { ProxiedRequest } from "../harness/fault-proxy.js";

const dm = (status: DatastoreMigrationStatus, deleting = false): DatastoreMigration => ({
  metadata: { name: "v1-to-v3", ...(deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) },
  spec: { type: "APIServerToCRDs" },
  status,
});
const decided = (d: DatastoreMigration, decision: DeletionDecision): DatastoreMigration => ({ ...d, metadata: { ...d.metadata, annotations: { [Names.deletionDecision]: decision } } });
const seen = (o: Partial<CrashObservation> & Pick<CrashObservation, "dm">): CrashObservation => ({ apiServicePresent: true, postDrainSeen: false, betweenPages: false, ...o });
const locked = "2026-01-01T00:00:00Z";
const copying = { totalTypes: 21, completedTypes: 8, typeProgress: "8 / 21", currentType: "NetworkPolicy" };
const copied = { totalTypes: 21, completedTypes: 21, typeProgress: "21 / 21", currentType: "" };

test("Pending: planner before the lock, drain after it, then the step up to the APIService delete", () => {
  assert.equal(classifyCrash(seen({ dm: dm({}) })), "planner");
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Pending" }) })), "planner");
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Pending", datastoreLockedAt: locked }) })), "drain");
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Pending", datastoreLockedAt: locked }), postDrainSeen: true })), "lock-to-apiservice-delete");
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Pending", datastoreLockedAt: locked }), postDrainSeen: true, apiServicePresent: false })), "other");
});

test("pre-copy steps: before the lock, the final delta after the drain, verification only, closing the door", () => {
  const withPrecopy = (d: DatastoreMigration, state: string): DatastoreMigration => ({ ...d, metadata: { ...d.metadata, annotations: { [Names.precopy]: state } } });
  assert.equal(classifyCrash(seen({ dm: withPrecopy(dm({ phase: "Pending" }), "started") })), "precopy");
  assert.equal(classifyCrash(seen({ dm: withPrecopy(dm({ phase: "Pending" }), "copied") })), "precopy");
  assert.equal(classifyCrash(seen({ dm: withPrecopy(dm({ phase: "Pending" }), "fallback") })), "planner");
  assert.equal(classifyCrash(seen({ dm: withPrecopy(dm({ phase: "Pending", datastoreLockedAt: locked }), "copied") })), "drain");
  assert.equal(classifyCrash(seen({ dm: withPrecopy(dm({ phase: "Pending", datastoreLockedAt: locked }), "copied"), doorSinceLock: true })), "final-delta");
  assert.equal(classifyCrash(seen({ dm: withPrecopy(dm({ phase: "Pending", datastoreLockedAt: locked }), "in-step"), doorSinceLock: true, postDrainSeen: true })), "lock-to-apiservice-delete");
  assert.equal(classifyCrash(seen({ dm: withPrecopy(dm({ phase: "Migrating", progress: copying }), "in-step") })), "verification");
  assert.equal(classifyCrash(seen({ dm: withPrecopy(dm({ phase: "Converged" }), "in-step"), doorEdit: true })), "door-close");
  assert.equal(classifyCrash(seen({ dm: withPrecopy(dm({ phase: "Converged" }), "closed") })), "converged");
});

test("Migrating: mid-kind, mid-page between list pages, verification once every kind is copied", () => {
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Migrating", progress: copying }) })), "mid-kind");
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Migrating" }) })), "mid-kind");
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Migrating", progress: copying }), betweenPages: true })), "mid-page");
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Migrating", progress: copied }), betweenPages: true })), "verification");
});

test("Converged, a rollback at Converged, abort, cleanup and the rest", () => {
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Converged" }) })), "converged");
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Migrating", progress: copying }, true) })), "abort");
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Converged" }, true) })), "abort");
  assert.equal(classifyCrash(seen({ dm: decided(dm({ phase: "Converged" }, true), DeletionDecision.Rollback) })), "rollback");
  assert.equal(classifyCrash(seen({ dm: decided(dm({ phase: "Converged" }, true), DeletionDecision.Complete) })), "converged");
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "Complete" }, true) })), "cleanup");
  assert.equal(classifyCrash(seen({ dm: dm({ phase: "WaitingForConflictResolution" }) })), "other");
  assert.equal(classifyCrash(seen({ dm: undefined })), "other");
});

test("request predicates", () => {
  const req = (method: string, url: string, accept = "application/json"): ProxiedRequest => {
    const u = new URL(url, "https://x");
    return { id: 1, method, path: u.pathname, query: u.searchParams, watch: u.searchParams.get("watch") === "true", body: undefined, accept, at: 0 };
  };
  assert.equal(isV1List(req("GET", "/apis/crd.projectcalico.org/v1/networkpolicies?limit=500")), true);
  assert.equal(isV1List(req("GET", "/apis/crd.projectcalico.org/v1/namespaces/a/networkpolicies?limit=500&continue=x")), true);
  assert.equal(isV1List(req("GET", "/apis/crd.projectcalico.org/v1/tiers/default")), false);
  assert.equal(isV1List(req("GET", "/apis/crd.projectcalico.org/v1/tiers?watch=true")), false);
  assert.equal(isV3Create(req("POST", "/apis/projectcalico.org/v3/tiers")), true);
  assert.equal(isV3Create(req("POST", "/apis/projectcalico.org/v3/tiers?dryRun=All")), false);
  assert.equal(isPostDrainWork(req("GET", "/api/v1/configmaps?limit=500", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")), true);
  assert.equal(isPostDrainWork(req("DELETE", "/apis/apiregistration.k8s.io/v1/apiservices/v3.projectcalico.org")), true);
  assert.equal(isPostDrainWork(req("GET", "/apis/migration.projectcalico.org/v1/datastoremigrations/v1-to-v3")), false);
  // The final delta's metadata-only lists of the Calico kinds come before the post-drain work.
  assert.equal(isPostDrainWork(req("GET", "/apis/crd.projectcalico.org/v1/tiers?limit=500", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")), false);
  assert.equal(isPostDrainWork(req("GET", "/apis/projectcalico.org/v3migration/tiers?limit=500", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")), false);
  assert.equal(isDoorEdit(req("PUT", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tiers.projectcalico.org")), true);
  assert.equal(isDoorEdit(req("PUT", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tiers.crd.projectcalico.org")), false);
});
