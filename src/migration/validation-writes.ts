/**
 * What a server-side validation run (`calico-migrate plan`, or the controller's Pending) writes to
 * the cluster, in words: it changes no Calico object and stores none of the converted objects
 * (they are dry-run creates), but it does create scratch objects and removes them again. Shown by
 * `plan --help` and the plan report, so "plan changes nothing" is never claimed where it is untrue.
 */
import { CALICO_ADMISSION } from "./prerequisites.js";
import { SCRATCH_GROUP } from "./validation.js";
import { VALIDATION_LEASE, VALIDATION_LEASE_NAMESPACE } from "./validation-lease.js";

/** One line per object a validation run writes, with what becomes of it. */
export function validationWrites(): string[] {
  const policies = CALICO_ADMISSION.policies.length + CALICO_ADMISSION.bindings.length;
  return [
    `Namespace ${VALIDATION_LEASE_NAMESPACE}, if missing (the controller's namespace; it stays)`,
    `Lease ${VALIDATION_LEASE_NAMESPACE}/${VALIDATION_LEASE} (one validation at a time): deleted at the end`,
    `a copy of every v3 CRD in the group ${SCRATCH_GROUP}: deleted at the end`,
    `${policies} copies of Calico's mutating admission policies and bindings, named *.${SCRATCH_GROUP}: deleted at the end`,
  ];
}

/** The paragraph `plan --help` shows under "What plan writes". */
export function validationWritesHelp(): string[] {
  return [
    "No Calico object is changed. The server-side validation dry-runs every converted object",
    "(nothing is stored); for it, plan writes:",
    ...validationWrites().map((w) => `  - ${w}`),
    "A run killed half-way leaves the scratch objects; the next run reuses and removes them.",
    "With --no-validate or --emit-rbac, plan writes nothing.",
  ];
}
