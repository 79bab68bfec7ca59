import { test } from "node:test";
import assert from "node:assert/strict";
import { originalOwnerServed } from "./foreign-owners.js";

const VIEW = "2f6e1b4a-0000-4000-8000-000000000001";

test("an original owner answered with the reference's own uid (the Calico API server's view) is served", () => {
  assert.equal(originalOwnerServed({ uid: VIEW }, VIEW, false), true);
  assert.equal(originalOwnerServed({ uid: VIEW }, VIEW, true), true);
});

test("an answer from v3 CRD storage (another uid: our copy, or a user's object) is waited out", () => {
  assert.equal(originalOwnerServed({ uid: "9c1d0000-0000-4000-8000-000000000002" }, VIEW, true), false);
  assert.equal(originalOwnerServed({ uid: undefined }, VIEW, true), false);
});

test("no owner is waited out until the APIService is Available (before that, v3 CRD storage may be answering)", () => {
  assert.equal(originalOwnerServed("not-found", VIEW, false), false);
  assert.equal(originalOwnerServed("not-found", VIEW, true), true, "deleted by someone: the reference goes back as it was");
});

test("an error (a Calico API server that is down) proves no absence to the garbage collector and must not hold the lock", () => {
  assert.equal(originalOwnerServed("error", VIEW, false), true);
});
