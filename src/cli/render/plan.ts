/**
 * The plan report as text: prerequisites, per-kind counts, renames, blockers with their fixes,
 * warnings, foreign owner references, v1 CRDs that are not migrated, validation, conflicts and
 * the locked-window estimate.
 */
import type { Finding } from "../../migration/findings.js";
import type { PlanReport } from "../../migration/planner.js";
import { validationWrites } from "../../migration/validation-writes.js";
import type { Palette } from "./color.js";
import { COPY_ORDER } from "./progress.js";
import { renderTable } from "./table.js";

type Check = [ok: boolean | "warn", name: string, detail: string];

/** The prerequisite checks as (ok, name, detail) rows. */
export function prerequisiteChecks(r: PlanReport): Check[] {
  const p = r.prerequisites;
  const admissionOk = p.mapVersion !== null && p.missingAdmission.length === 0;
  return [
    [p.v1Crds.length > 0, "v1 CRDs (crd.projectcalico.org)", p.v1Crds.length ? `${p.v1Crds.length} installed` : "none: nothing to migrate"],
    [p.missingV3Crds.length === 0, "v3 CRDs (projectcalico.org)", p.missingV3Crds.length ? `missing: ${p.missingV3Crds.join(", ")}` : `${p.v3Crds.length} installed`],
    [admissionOk, "MutatingAdmissionPolicy", p.mapVersion === null ? "not served" : p.missingAdmission.length ? `missing: ${p.missingAdmission.join(", ")}` : `admissionregistration.k8s.io/${p.mapVersion}, Calico's policies installed`],
    [p.forbiddenKinds.length === 0, "RBAC", p.forbiddenKinds.length ? `cannot list ${p.forbiddenKinds.join(", ")}` : "can list every v1 kind"],
    [p.v1ClusterInformation === "ready" ? true : p.v1ClusterInformation === "locked" ? "warn" : false, "v1 ClusterInformation default", {
      ready: "datastoreReady (unlocked)",
      locked: "already locked (datastoreReady=false): another migration or a manual lock?",
      missing: "not found",
    }[p.v1ClusterInformation]],
    [true, "APIService v3.projectcalico.org", {
      aggregated: "registered (the migration unregisters it after the drain)",
      automanaged: "automanaged by Kubernetes: v3 CRD storage is readable",
      absent: "not registered: v3 CRD storage is readable",
    }[p.apiService]],
  ];
}

function mark(ok: boolean | "warn", p: Palette): string {
  if (ok === "warn") return p.yellow("!");
  return ok ? p.green("✓") : p.red("✗");
}

function findingLines(f: Finding, p: Palette, color: (s: string) => string): string[] {
  return [`  ${color(f.code)}${f.object ? `  ${f.object}` : ""}`, `      ${f.message}`, `      ${p.bold("fix:")} ${f.fix}`];
}

/** The report's lines (without the Next: block). */
export function renderPlan(r: PlanReport, p: Palette): string[] {
  const out: string[] = [p.bold("Prerequisites")];
  out.push(...renderTable(["check", "detail"], prerequisiteChecks(r).map(([ok, name, detail]) => [`${mark(ok, p)} ${name}`, detail]), { indent: "  " }).split("\n"));

  out.push("", p.bold(`Objects to migrate: ${r.total} in ${r.kinds.filter((k) => k.count > 0).length} of ${r.kinds.length} kinds`));
  if (r.kinds.length) {
    const counts = new Map(r.kinds.map((k) => [k.kind, k.count]));
    out.push(...renderTable(["kind", "v1 objects"], COPY_ORDER.filter((k) => counts.has(k)).map((k) => [k, counts.get(k)])
      , { indent: "  " }).split("\n"));
  } else out.push("  not counted: the v1 objects cannot be read (see the blockers)");

  out.push("", p.bold(`Renames: ${r.renames.length}`) + (r.renames.length ? " (legacy default. policy names lose the prefix in v3)" : ""));
  if (r.renames.length) out.push(...renderTable(["kind", "namespace", "v1 name", "v3 name"], r.renames.map((n) => [n.kind, n.namespace ?? "", n.from, n.to]), { indent: "  " }).split("\n"));

  out.push("", p.bold(`Blockers: ${r.blockers.length}`));
  for (const f of r.blockers) out.push(...findingLines(f, p, p.red));
  if (r.warnings.length) {
    out.push("", p.bold(`Warnings: ${r.warnings.length}`));
    for (const f of r.warnings) out.push(...findingLines(f, p, p.yellow));
  }

  out.push("", p.bold("Foreign owner references"));
  if ("skipped" in r.foreign) out.push(`  not scanned (${r.foreign.skipped})`);
  else {
    const f = r.foreign;
    out.push(f.dependents.length
      ? `  ${f.dependents.length} non-Calico object(s) have Calico owners; the controller protects them from the garbage collector (detached before the APIService goes, re-attached to the v3 owners after the copy):`
      : `  none: no non-Calico object has a Calico owner (${f.scanned} resources scanned)`);
    if (f.dependents.length) {
      out.push(...renderTable(["resource", "namespace", "name", "calico owners"], f.dependents.map((d) => [
        d.resource.group ? `${d.resource.plural}.${d.resource.group}` : d.resource.plural,
        d.namespace ?? "",
        d.name,
        d.ownerReferences.filter((o) => o.apiVersion.includes("projectcalico.org")).map((o) => `${o.kind}/${o.name}`).join(", "),
      ]), { indent: "    " }).split("\n"));
    }
    for (const n of f.notScanned) out.push(`  ${p.yellow("!")} not scanned: ${n.resource} (${n.reason})`);
  }

  if (r.uncopiedV1Crds.length) {
    out.push("", p.bold(`v1 CRDs not migrated: ${r.uncopiedV1Crds.length}`));
    out.push("  kinds in crd.projectcalico.org that the migration does not copy; finalize deletes every CRD of the group, these and their objects included:");
    out.push(...renderTable(["crd", "objects"], r.uncopiedV1Crds.map((c) => [c.name, c.objects ?? `? (${c.reason ?? "not counted"})`]), { indent: "    " }).split("\n"));
  }

  out.push("", p.bold("Server-side validation"));
  out.push(r.validated
    ? `  every converted object was dry-run against the v3 CRDs and admission policies: ${r.blockers.filter((b) => b.code === "InvalidObject").length} rejected`
    : "  skipped (--no-validate, or conversion errors came first): objects the v3 API rejects would fail inside the locked window");
  // The one place plan writes to the cluster: say what, and that it is gone again.
  out.push(r.validated
    ? `  written for it and removed again (no Calico object was changed):\n${validationWrites().map((w) => `    - ${w}`).join("\n")}`
    : "  nothing was written to the cluster");

  out.push("", p.bold("Conflicts with existing v3 objects"));
  if (r.conflicts === null) out.push(`  not checked: ${r.conflictsNote}`);
  else if (!r.conflicts.length) out.push("  none");
  else {
    out.push(`  ${r.conflicts.length} v3 object(s) differ from their v1 source (calico-migrate conflicts shows diffs and fixes):`);
    out.push(...renderTable(["kind", "namespace", "name", "differing fields"], r.conflicts.map((c) => [c.kind, c.namespace ?? "", c.name, c.reason ?? c.diffs.map((d) => d.path).join(", ")]), { indent: "    " }).split("\n"));
  }

  const e = r.estimate;
  out.push("", p.bold("Locked window"));
  out.push(`  about ${e.lockedWindowSeconds}s (${e.drainSeconds}s drain, ${r.total} objects at ~${e.writeRate}/s, the switch to v3 CRD storage and verification)`);
  out.push(`  (new pods get no IP and policy changes wait while the datastore is locked; existing traffic is unaffected)`);
  return out;
}
