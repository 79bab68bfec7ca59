/**
 * The v3 CRDs' structural OpenAPI schemas, looked up by kind. Production code builds the set from
 * the CRDs read from the cluster, so normalisation follows whatever Calico version is installed.
 */
import { V3_GROUP, V3_VERSION } from "../calico/kinds.js";
import type { KubeObject } from "../kube/object.js";

/** The parts of a structural OpenAPI v3 schema node that pruning and defaulting read. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  default?: unknown;
  nullable?: boolean;
  required?: string[];
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  [key: string]: unknown;
}

/** Thrown when a kind has no schema in the set (its v3 CRD is not installed). */
export class MissingSchemaError extends Error {
  override readonly name = "MissingSchemaError";
}

interface CrdShape {
  group?: string;
  names?: { kind?: string };
  versions?: { name?: string; storage?: boolean; served?: boolean; schema?: { openAPIV3Schema?: JsonSchema } }[];
}

/** The openAPIV3Schema of each projectcalico.org v3 CRD, by kind. */
export class SchemaSet {
  private constructor(private readonly byKind: ReadonlyMap<string, JsonSchema>) {}

  /**
   * Builds the set from CRD objects; only projectcalico.org CRDs count, and of each the v3
   * version (else its storage version). Other objects are ignored.
   */
  static fromCrds(crds: readonly KubeObject[]): SchemaSet {
    const byKind = new Map<string, JsonSchema>();
    for (const crd of crds) {
      if (crd.kind !== undefined && crd.kind !== "CustomResourceDefinition") continue;
      const spec = crd.spec as CrdShape | undefined;
      if (spec?.group !== V3_GROUP || !spec.names?.kind) continue;
      const versions = spec.versions ?? [];
      const version = versions.find((v) => v.name === V3_VERSION) ?? versions.find((v) => v.storage);
      const schema = version?.schema?.openAPIV3Schema;
      if (schema) byKind.set(spec.names.kind, schema);
    }
    return new SchemaSet(byKind);
  }

  /** The object schema of a v3 kind, or undefined. */
  forKind(kind: string): JsonSchema | undefined {
    return this.byKind.get(kind);
  }

  /** The object schema of a v3 kind; throws MissingSchemaError naming the CRD to install. */
  require(kind: string): JsonSchema {
    const schema = this.byKind.get(kind);
    if (!schema) throw new MissingSchemaError(`no schema for ${V3_GROUP}/${V3_VERSION} ${kind}: is its v3 CRD installed?`);
    return schema;
  }

  /** The kinds in the set, sorted. */
  kinds(): string[] {
    return [...this.byKind.keys()].sort();
  }
}

/** The schema of `.spec` within an object schema; throws when the schema declares no spec. */
export function specSchemaOf(objectSchema: JsonSchema): JsonSchema {
  const spec = objectSchema.properties?.spec;
  if (!spec) throw new MissingSchemaError("the object schema has no properties.spec");
  return spec;
}

/** The schema of a named property of an object node, or undefined when the node does not declare it. */
export function propertySchema(node: JsonSchema, key: string): JsonSchema | undefined {
  return node.properties?.[key];
}

/** The schema of map values of an object node, when it is a map (additionalProperties with a schema). */
export function mapValueSchema(node: JsonSchema): JsonSchema | undefined {
  return typeof node.additionalProperties === "object" ? node.additionalProperties : undefined;
}

/** True when an object node keeps fields it does not declare. */
export function keepsUnknownFields(node: JsonSchema): boolean {
  return node["x-kubernetes-preserve-unknown-fields"] === true || node.additionalProperties === true;
}
