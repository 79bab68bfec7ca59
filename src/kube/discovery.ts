/**
 * API discovery: which groups, versions and resources the server serves, and kind → resource
 * mapping. One instance caches what it looked up; call `reset()` after CRDs or APIServices change.
 */
import type { KubeClient } from "./client.js";
import { isNotFound } from "./errors.js";
import type { ResourceRef } from "./resource.js";

/** One entry of an APIResourceList. */
export interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

interface ApiResourceList {
  groupVersion: string;
  resources: ApiResource[];
}

interface ApiGroupList {
  groups: { name: string; versions: { groupVersion: string; version: string }[]; preferredVersion?: { groupVersion: string; version: string } }[];
}

/** Thrown when a kind is not served. */
export class NoKindMatchError extends Error {
  override readonly name = "NoKindMatchError";
}

/** Discovery with a per-instance cache. */
export class Discovery {
  private readonly lists = new Map<string, ApiResourceList | null>();

  constructor(private readonly client: KubeClient) {}

  /** Forgets everything looked up so far. */
  reset(): void {
    this.lists.clear();
  }

  /** The resources served for `group/version` (`v1` for core), or null when the group version is not served. */
  async resourcesFor(groupVersion: string): Promise<ApiResource[] | null> {
    if (!this.lists.has(groupVersion)) {
      const path = groupVersion.includes("/") ? `/apis/${groupVersion}` : `/api/${groupVersion}`;
      try {
        this.lists.set(groupVersion, await this.client.request<ApiResourceList>("GET", path));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.lists.set(groupVersion, null);
      }
    }
    return this.lists.get(groupVersion)?.resources ?? null;
  }

  /** True when `group/version` serves the resource `plural`. */
  async serves(groupVersion: string, plural: string): Promise<boolean> {
    return (await this.resourcesFor(groupVersion))?.some((r) => r.name === plural) ?? false;
  }

  /** Every served group version with its preferred flag (not cached). */
  async groupVersions(): Promise<{ group: string; version: string; preferred: boolean }[]> {
    const out: { group: string; version: string; preferred: boolean }[] = [{ group: "", version: "v1", preferred: true }];
    const groups = await this.client.request<ApiGroupList>("GET", "/apis");
    for (const g of groups.groups) {
      for (const v of g.versions) out.push({ group: g.name, version: v.version, preferred: g.preferredVersion?.version === v.version });
    }
    return out;
  }

  /** The resource serving `kind` in `apiVersion`. Throws NoKindMatchError when none does. */
  async resourceFor(apiVersion: string, kind: string): Promise<ResourceRef> {
    const resources = await this.resourcesFor(apiVersion);
    const r = resources?.find((x) => x.kind === kind && !x.name.includes("/"));
    if (!r) throw new NoKindMatchError(`no resource for kind ${kind} in ${apiVersion} (is the CRD or API installed?)`);
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") as [string, string] : ["", apiVersion];
    return { group, version, plural: r.name, namespaced: r.namespaced, kind };
  }
}
