/**
 * The server-side validation the planner runs in Pending, bound to the controller's client.
 */
import type { Validator } from "../migration/planner.js";
import { validateWithServer } from "../migration/validation.js";
import type { ControllerContext } from "./context.js";

/** A validator that dry-runs every converted object against scratch copies of the v3 CRDs. */
export function makeValidator(ctx: ControllerContext): Validator {
  return (objects) => validateWithServer({ client: ctx.client, objects, holder: `controller-${process.pid}`, log: ctx.log });
}
