/**
 * `calico-migrate controller`: runs the DatastoreMigration controller. Placeholder until the
 * controller's entry point lands (owned by the controller work).
 */
import type { CliIo } from "../io.js";

/** What the `controller` command receives: its own arguments (flags passed through) and the global kubeconfig flags. */
export interface ControllerCommandInput {
  args: string[];
  kubeconfig?: string;
  context?: string;
}

/** Runs the controller until it is stopped. */
export function runControllerCommand(_input: ControllerCommandInput, _io: CliIo): Promise<void> {
  return Promise.reject(new Error("not implemented: calico-migrate controller"));
}
