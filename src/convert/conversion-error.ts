/**
 * The one error the pure conversion throws: a v1 CR that cannot be presented as a v3 object. It
 * names the object and the offending field, and says how to fix the CR, because the migration
 * cannot continue past it (the Calico API server itself fails to list such an object).
 */
import { V1_GROUP, type CalicoKind } from "../calico/kinds.js";

/** Which object failed to convert. */
export interface ConversionSubject {
  kind: CalicoKind;
  namespace?: string;
  name: string;
}

/** Thrown by convertV1ToV3 for a CR that has no valid v3 form. */
export class ConversionError extends Error {
  override readonly name = "ConversionError";
  /** v3 kind of the object. */
  readonly kind: string;
  readonly namespace: string | undefined;
  /** The v1 CR name (`name` is the error class name, as for every Error). */
  readonly objectName: string;
  /** Path of the offending field in the v1 CR, e.g. `metadata.annotations[projectcalico.org/metadata]`. */
  readonly field: string;

  constructor(subject: ConversionSubject, field: string, problem: string, fix: string, options?: ErrorOptions) {
    const c = subject.kind;
    const key = subject.namespace ? `${subject.namespace}/${subject.name}` : subject.name;
    const resource = `${c.v1Plural}.${V1_GROUP}`;
    super(`cannot convert ${c.kind} "${key}" (${resource}): ${field}: ${problem}. Fix: ${fix}`, options);
    this.kind = c.kind;
    this.namespace = subject.namespace;
    this.objectName = subject.name;
    this.field = field;
  }
}

/** The kubectl command that edits the v1 CR of a subject (used in fix hints). */
export function editCommand(subject: ConversionSubject): string {
  const ns = subject.kind.namespaced && subject.namespace ? ` -n ${subject.namespace}` : "";
  return `kubectl edit ${subject.kind.v1Plural}.${V1_GROUP} ${subject.name}${ns}`;
}
