import { test } from "node:test";
import assert from "node:assert/strict";
import { convertUid, InvalidUidError } from "./uid.js";

test("convertUid maps the reference vectors both ways", () => {
  assert.equal(convertUid("5190df99-1528-4dfe-9585-6ee9b4691183"), "8a09fb99-a814-4d7f-95a1-76972d9688c1");
  assert.equal(convertUid("8a09fb99-a814-4d7f-95a1-76972d9688c1"), "5190df99-1528-4dfe-9585-6ee9b4691183");
  assert.equal(convertUid("00000000-0000-4000-8000-000000000001"), "00000000-0000-4000-8000-000000000080");
  assert.equal(convertUid("00000000-0000-4000-8000-000000000080"), "00000000-0000-4000-8000-000000000001");
});

test("convertUid is an involution and keeps bytes 6 and 8", () => {
  const uid = "0123abcd-ef01-4567-89ab-cdef01234567";
  const converted = convertUid(uid);
  assert.equal(convertUid(converted), uid);
  assert.equal(converted.slice(14, 16), "45");
  assert.equal(converted.slice(19, 21), "89");
});

test("convertUid accepts upper case and compact form, answers lower-case canonical", () => {
  assert.equal(convertUid("5190DF99-1528-4DFE-9585-6EE9B4691183"), "8a09fb99-a814-4d7f-95a1-76972d9688c1");
  assert.equal(convertUid("5190df9915284dfe95856ee9b4691183"), "8a09fb99-a814-4d7f-95a1-76972d9688c1");
});

test("convertUid rejects a non-UUID", () => {
  assert.throws(() => convertUid("not-a-uid"), InvalidUidError);
  assert.throws(() => convertUid(""), /invalid UUID ""/);
});
