/**
 * The controller's view of an operator-managed install: a true answer is cached for the process;
 * false never is (the operator may grant RBAC late).
 */
import { isOperatorManaged as installationExists } from "../migration/operator.js";
import type { ControllerContext } from "./context.js";

/** True when an Installation exists (cached once true). */
export async function isOperatorManaged(ctx: ControllerContext): Promise<boolean> {
  if (!ctx.state.operatorManaged) ctx.state.operatorManaged = await installationExists(ctx.client);
  return ctx.state.operatorManaged;
}
