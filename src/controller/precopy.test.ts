import { test } from "node:test";
import assert from "node:assert/strict";
import { catchUpAgain } from "./precopy.js";

test("catch-up passes go on while each halves the last one's writes, and stop when small or at the floor", () => {
  assert.equal(catchUpAgain(15_000, undefined, 1), true, "the first catch-up after a long pre-copy");
  assert.equal(catchUpAgain(3_000, 15_000, 2), true);
  assert.equal(catchUpAgain(200, 3_000, 3), false, "small enough for the final delta");
  assert.equal(catchUpAgain(900, 1_000, 4), false, "churn floor: another pass would not shrink the delta");
  assert.equal(catchUpAgain(5_000, 20_000, 10), false, "bounded");
});
