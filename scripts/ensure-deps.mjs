// Installs the npm dependencies when node_modules is missing or older than package-lock.json,
// so `npm test` and `npm run demo` work on a fresh clone. Plain Node: runs before any dependency exists.
import { execSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const lock = path.join(root, "package-lock.json");
const marker = path.join(root, "node_modules", ".package-lock.json");
const stale = !fs.existsSync(marker) || fs.statSync(marker).mtimeMs < fs.statSync(lock).mtimeMs;
if (stale) {
  console.error("ensure-deps: installing npm dependencies (npm ci) ...");
  execSync("npm ci --no-audit --no-fund", { cwd: root, stdio: "inherit" });
}
