/**
 * Operator-managed installs: an operator.tigera.io Installation exists. A true answer is cached
 * for the process; false never is (the operator may grant RBAC late).
 */
import { isForbidden, isNotFound } from "../kube/errors.js";
import type { ControllerContext } from "./context.js";

const INSTALLATIONS = { group: "operator.tigera.io", version: "v1", plural: "installations", namespaced: false, kind: "Installation" } as const;

/** True when an Installation exists. */
export async function isOperatorManaged(ctx: ControllerContext): Promise<boolean> {
  if (ctx.state.operatorManaged) return true;
  try {
    const list = await ctx.client.list(INSTALLATIONS, { limit: 1 });
    ctx.state.operatorManaged = list.items.length > 0;
  } catch (err) {
    if (!isNotFound(err) && !isForbidden(err)) throw err;
  }
  return ctx.state.operatorManaged;
}
