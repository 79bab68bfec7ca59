/**
 * The server-side validation the planner runs in Pending, bound to the controller's client.
 */
import type { Validator } from "../migration/planner.js";
import { validateWithServer } from "../migration/validation.js";
import type { ControllerContext } from "./context.js";

/**
 * The controller's identity on the validation Lease. The same for every process: only one
 * controller acts at a time (leader election), and a controller restarted after a crash must be
 * able to take over the Lease its predecessor held instead of waiting for it to expire.
 */
export const CONTROLLER_VALIDATION_HOLDER = "calico-datastore-migration-controller";

/** A validator that dry-runs every converted object against scratch copies of the v3 CRDs. */
export function makeValidator(ctx: ControllerContext): Validator {
  return (objects) => validateWithServer({ client: ctx.client, objects, holder: CONTROLLER_VALIDATION_HOLDER, log: ctx.log });
}
