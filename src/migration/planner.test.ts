import { test } from "node:test";
import assert from "node:assert/strict";
import { TRANSITION_SECONDS, transitionSeconds } from "./planner.js";

test("the locked-window estimate has a transitional part only when an unavailable aggregated APIService is unregistered", () => {
  assert.equal(transitionSeconds({ apiService: "aggregated", apiServiceAvailable: false }), TRANSITION_SECONDS);
  assert.equal(transitionSeconds({ apiService: "aggregated", apiServiceAvailable: true }), 0, "a live Calico API server: measured 0 s");
  assert.equal(transitionSeconds({ apiService: "automanaged", apiServiceAvailable: false }), 0, "nothing to unregister");
  assert.equal(transitionSeconds({ apiService: "absent", apiServiceAvailable: false }), 0);
});
