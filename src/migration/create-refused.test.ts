import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError } from "../kube/errors.js";
import { refusalOf } from "./create-refused.js";

const err = (code: number, message = "refused") => new ApiError(code, "", message, "POST", "/apis/projectcalico.org/v3/ippools", undefined);

test("a create refused as invalid ends the window at once, as forbidden after a grace; transitional and transient errors are no refusal", () => {
  assert.equal(refusalOf(err(422)), "invalid");
  assert.equal(refusalOf(err(400)), "invalid");
  assert.equal(refusalOf(err(403, `ippools.projectcalico.org "a" is forbidden: ValidatingAdmissionPolicy 'x' with binding 'x' denied request`)), "forbidden");
  assert.equal(refusalOf(err(403, "failed to configure policy: paramKind projectcalico.org/v3 Tier not found")), undefined, "the transitional 403 of a policy still resolving its paramKind");
  assert.equal(refusalOf(err(503)), undefined);
  assert.equal(refusalOf(err(409)), undefined);
  assert.equal(refusalOf(new Error("socket hang up")), undefined);
});
