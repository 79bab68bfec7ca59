import { test } from "node:test";
import assert from "node:assert/strict";
import { CALICO_KINDS, isCalicoApiVersion, kindBands } from "./kinds.js";

test("isCalicoApiVersion: either Calico group, with or without a version, and nothing else", () => {
  for (const v of ["projectcalico.org", "projectcalico.org/v3", "crd.projectcalico.org", "crd.projectcalico.org/v1"]) assert.equal(isCalicoApiVersion(v), true, v);
  for (const v of ["v1", "apps/v1", "", undefined, "notprojectcalico.org", "notprojectcalico.org/v3", "projectcalico.org.evil/v1"]) assert.equal(isCalicoApiVersion(v), false, String(v));
});

test("21 migrated kinds in Calico's order bands, IPAM after everything but CalicoNodeStatus", () => {
  assert.equal(CALICO_KINDS.length, 21);
  assert.deepEqual(kindBands().map((b) => [b[0]?.order, b.map((k) => k.kind)]), [
    [10, ["Tier"]],
    [20, ["FelixConfiguration", "BGPConfiguration", "KubeControllersConfiguration"]],
    [40, ["IPPool", "IPReservation", "BGPPeer", "BGPFilter"]],
    [50, ["GlobalNetworkPolicy", "NetworkPolicy", "StagedGlobalNetworkPolicy", "StagedNetworkPolicy", "StagedKubernetesNetworkPolicy"]],
    [60, ["HostEndpoint", "GlobalNetworkSet", "NetworkSet"]],
    [100, ["IPAMConfiguration", "BlockAffinity", "IPAMBlock", "IPAMHandle"]],
    [110, ["CalicoNodeStatus"]],
  ]);
});
