#!/usr/bin/env node
/**
 * The `calico-migrate` executable: runs the command line against the real process and exits
 * with the command's exit code once output is flushed.
 */
import { processIo } from "./io.js";
import { runCli } from "./program.js";

const code = await runCli(process.argv.slice(2), processIo());
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
process.exit(code);
