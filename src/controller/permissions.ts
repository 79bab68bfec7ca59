/**
 * Every API call the controller makes, as RBAC: the resource, the verbs and (where the names are
 * known) the object names, with the code that makes the calls. Kept by hand from reading every
 * client call in src/controller, src/migration and the controller command; the unit test
 * test/unit/rbac-least-privilege.test.ts holds manifests/rbac to exactly this table (nothing
 * missing, nothing unused, no wildcard); the controller suites run on that role (plus the optional
 * one only where foreign owner references are under test).
 * Not granted on purpose: creating Namespaces (validation-lease.ts and the controller command try
 * it for a missing namespace and carry on when refused); foreign owner references of arbitrary
 * kinds (manifests/optional, or the migration's opt-out).
 */
import { MIGRATION_GROUP } from "../api/datastore-migration.js";
import { CALICO_KINDS, V1_GROUP, V3_GROUP, type CalicoKind } from "../calico/kinds.js";
import { APISERVICE_NAME } from "../migration/apiservice.js";
import { DETACHABLE_KINDS } from "../migration/calico-dependents.js";
import { v3CrdName } from "../migration/precopy-door.js";
import { CALICO_ADMISSION } from "../migration/prerequisites.js";
import { SCRATCH_GROUP, scratchName } from "../migration/validation.js";
import { DEFAULT_CONFIG } from "./config.js";

/** The RBAC verbs the controller uses. */
export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";

/** One need: `verbs` on `resources` of `group`, cluster-wide or in the controller's namespace. */
export interface Permission {
  scope: "cluster" | "namespace";
  group: string;
  resources: readonly string[];
  verbs: readonly Verb[];
  /** Only these objects; absent when the names are not known in advance (or the verb is create, which a POST cannot be narrowed by). */
  resourceNames?: readonly string[];
  /** Where the calls are made. */
  usedBy: string;
}

const v1Plurals = (kinds: readonly CalicoKind[]) => kinds.map((k) => k.v1Plural);
const v3Plurals = CALICO_KINDS.map((k) => k.v3Plural);
/** Kinds whose v3 name can differ from the v1 CR name (legacy `default.` policy names, IPAM names derived from the spec). */
const RENAMABLE = CALICO_KINDS.filter((k) => k.converter === "policy" || k.converter === "ipamBlock" || k.converter === "ipamHandle");
/** The scratch CRDs validation applies: one per migrated kind. */
export const SCRATCH_CRDS = v3Plurals.map((p) => `${p}.${SCRATCH_GROUP}`);

/** The table (manifests/rbac/cluster-role.yaml and role.yaml grant exactly this). */
export const CONTROLLER_PERMISSIONS: readonly Permission[] = [
  { scope: "cluster", group: MIGRATION_GROUP, resources: ["datastoremigrations"], verbs: ["get", "list", "watch", "patch"],
    usedBy: "manager.ts (informer), reconciler.ts, phase-migrating.ts (get), context.ts patchMetadata (finalizer, annotations)" },
  { scope: "cluster", group: MIGRATION_GROUP, resources: ["datastoremigrations/status"], verbs: ["update"], usedBy: "context.ts writeStatus" },
  { scope: "cluster", group: "apiextensions.k8s.io", resources: ["customresourcedefinitions"], verbs: ["get", "list"],
    usedBy: "prerequisites.ts crdNames, planner.ts, phase-deletion.ts, validation.ts (list); manager.ts (its own CRD), validation.ts (scratch Established)" },
  { scope: "cluster", group: "apiextensions.k8s.io", resources: ["customresourcedefinitions"], verbs: ["create"], resourceNames: SCRATCH_CRDS,
    usedBy: "validation.ts installScratch (server-side apply creates them, authorised by name)" },
  { scope: "cluster", group: "apiextensions.k8s.io", resources: ["customresourcedefinitions"], verbs: ["patch", "delete"],
    usedBy: "phase-deletion.ts cleanupV1Crds and crd-nudge.ts (every crd.projectcalico.org CRD); validation.ts installScratch/removeScratch" },
  { scope: "cluster", group: "apiregistration.k8s.io", resources: ["apiservices"], verbs: ["get", "update", "delete"], resourceNames: [APISERVICE_NAME],
    usedBy: "apiservice.ts (save, unregister, take over the automanaged one), prerequisites.ts" },
  { scope: "cluster", group: "apiregistration.k8s.io", resources: ["apiservices"], verbs: ["create"], usedBy: "apiservice.ts restoreApiService" },
  { scope: "cluster", group: V1_GROUP, resources: [...v1Plurals(CALICO_KINDS), "clusterinformations"], verbs: ["get", "list", "watch"],
    usedBy: "sync-kind.ts, planner.ts (every v1 kind), prerequisites.ts forbiddenV1Kinds (RBAC probe); delta-kind.ts (get what changed since its copy), tier-drift.ts (built-in tiers), copy-writes.ts guardRenamedCreate; verification-fence.ts (watch every v1 kind from the fence)" },
  { scope: "cluster", group: V1_GROUP, resources: ["clusterinformations"], verbs: ["update"], usedBy: "datastore-lock.ts (the v1 lock; its get is granted with the list above)" },
  { scope: "cluster", group: V1_GROUP, resources: v1Plurals(DETACHABLE_KINDS), verbs: ["patch"],
    usedBy: "calico-dependents.ts (take a v1 object's Calico owner references out of its metadata annotation for the migration, and put them back on abort)" },
  { scope: "cluster", group: V1_GROUP, resources: v1Plurals(RENAMABLE), verbs: ["delete"],
    usedBy: "sync-kind.ts guardRenamedCreate (a renamed copy the Calico API server stored in v1 is removed again)" },
  { scope: "cluster", group: V3_GROUP, resources: v3Plurals, verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    usedBy: "v3-index.ts, sync-kind.ts (list, create, get), copy-writes.ts (update a stale copy of ours, delete one whose source is gone), managed-fields.ts (patch: relabel), rollback-safety.ts (watch), restore.ts and precopy.ts (delete ours), foreign-owners.ts (get owners)" },
  { scope: "cluster", group: "apiextensions.k8s.io", resources: ["customresourcedefinitions"], verbs: ["update"], resourceNames: CALICO_KINDS.map(v3CrdName),
    usedBy: "precopy-door.ts openDoor/closeDoor (the temporary version on the v3 CRDs)" },
  { scope: "cluster", group: V3_GROUP, resources: ["clusterinformations"], verbs: ["get", "watch", "create", "update", "delete"],
    usedBy: "datastore-lock.ts (the v3 lock), rollback-safety.ts (watch)" },
  { scope: "cluster", group: SCRATCH_GROUP, resources: v3Plurals, verbs: ["create"], usedBy: "validation.ts validateOne (dry-run create)" },
  { scope: "cluster", group: "admissionregistration.k8s.io", resources: ["mutatingadmissionpolicies"], verbs: ["get"], resourceNames: CALICO_ADMISSION.policies,
    usedBy: "prerequisites.ts (present?), validation.ts installScratch (copied)" },
  { scope: "cluster", group: "admissionregistration.k8s.io", resources: ["mutatingadmissionpolicybindings"], verbs: ["get"], resourceNames: CALICO_ADMISSION.bindings,
    usedBy: "prerequisites.ts (present?), validation.ts installScratch (copied)" },
  { scope: "cluster", group: "admissionregistration.k8s.io", resources: ["mutatingadmissionpolicies"], verbs: ["create", "patch", "delete"], resourceNames: CALICO_ADMISSION.policies.map(scratchName),
    usedBy: "validation.ts installScratch (server-side apply) and removeScratch" },
  { scope: "cluster", group: "admissionregistration.k8s.io", resources: ["mutatingadmissionpolicybindings"], verbs: ["create", "patch", "delete"], resourceNames: CALICO_ADMISSION.bindings.map(scratchName),
    usedBy: "validation.ts installScratch (server-side apply) and removeScratch" },
  { scope: "cluster", group: "apps", resources: ["daemonsets", "deployments"], verbs: ["get", "list", "watch"],
    usedBy: "components.ts (rollout gate, namespace probe), manager.ts (informers)" },
  { scope: "cluster", group: "operator.tigera.io", resources: ["installations"], verbs: ["list"], usedBy: "operator.ts isOperatorManaged" },
  { scope: "cluster", group: "", resources: ["events"], verbs: ["create"], usedBy: "events.ts (namespace default)" },
  { scope: "cluster", group: "", resources: ["namespaces"], verbs: ["get"], resourceNames: [DEFAULT_CONFIG.namespace],
    usedBy: "cli/commands/controller.ts ensureNamespace (a 403 there would turn leader election and the report off)" },
  { scope: "namespace", group: "coordination.k8s.io", resources: ["leases"], verbs: ["get", "create", "update", "delete"],
    usedBy: "kube/leader-election.ts (get, create, update), validation-lease.ts (and delete on release)" },
  { scope: "namespace", group: "", resources: ["configmaps"], verbs: ["get", "create", "update", "delete"], usedBy: "report.ts ReportStore" },
];

