/**
 * There is no Docker engine here, so the Dockerfile is proven by running its own steps: its
 * COPY/RUN/ENTRYPOINT/CMD lines are parsed and executed stage by stage in scratch directories
 * (a production install in the final stage), and the entry point must start and print its help.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "../harness/binaries.js";

interface Step {
  op: "FROM" | "COPY" | "RUN" | "ENTRYPOINT" | "CMD" | "WORKDIR" | "ENV" | "USER";
  args: string;
}

/** Dockerfile instructions (continuation lines joined, comments dropped). */
export function parseDockerfile(text: string): Step[] {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const i = l.indexOf(" ");
      return { op: l.slice(0, i).toUpperCase() as Step["op"], args: l.slice(i + 1).trim() };
    });
}

test("the Dockerfile is multi-stage on Node 20 slim and runs as non-root", () => {
  const steps = parseDockerfile(fs.readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"));
  const froms = steps.filter((s) => s.op === "FROM");
  assert.equal(froms.length, 2);
  assert.ok(froms.every((f) => f.args.startsWith("node:20-slim")));
  const user = steps.filter((s) => s.op === "USER").at(-1);
  assert.ok(user && !/^(0|root)\b/.test(user.args), "final USER is not root");
  assert.ok(steps.some((s) => s.op === "RUN" && s.args.includes("--omit=dev")), "production install in the final stage");
});

test("running the Dockerfile's steps builds an image whose entry point prints its help", { timeout: 600_000 }, () => {
  const steps = parseDockerfile(fs.readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "dockerfile-"));
  const stages: Record<string, string> = {};
  let root = "";
  let workdir = "/";
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  try {
    for (const s of steps) {
      switch (s.op) {
        case "FROM": {
          const name = s.args.split(/\s+AS\s+/i)[1] ?? `stage${Object.keys(stages).length}`;
          root = path.join(scratch, name);
          fs.mkdirSync(root, { recursive: true });
          stages[name] = root;
          workdir = "/";
          break;
        }
        case "WORKDIR":
          workdir = s.args;
          fs.mkdirSync(path.join(root, workdir), { recursive: true });
          break;
        case "COPY": {
          const parts = s.args.split(/\s+/);
          const from = parts[0]?.startsWith("--from=") ? stages[parts.shift()!.slice(7)] : undefined;
          const dest = parts.pop()!;
          const destAbs = path.join(root, dest.startsWith("/") ? dest : path.join(workdir, dest));
          for (const src of parts) {
            const srcAbs = from ? path.join(from, src) : path.join(repoRoot, src);
            const target = dest.endsWith("/") ? path.join(destAbs, path.basename(src)) : destAbs;
            fs.cpSync(srcAbs, target, { recursive: true });
          }
          break;
        }
        case "RUN":
          execSync(s.args, { cwd: path.join(root, workdir), stdio: "pipe", env: { ...process.env, NODE_ENV: "" } });
          break;
        case "ENTRYPOINT":
          entrypoint = JSON.parse(s.args) as string[];
          break;
        case "CMD":
          cmd = JSON.parse(s.args) as string[];
          break;
        case "ENV":
        case "USER":
          break;
        default:
          throw new Error(`unhandled Dockerfile instruction ${String(s.op)}`);
      }
    }
    const app = path.join(root, workdir);
    assert.ok(!fs.existsSync(path.join(app, "node_modules/typescript")), "no dev dependencies in the final stage");
    assert.ok(!fs.existsSync(path.join(app, "src")), "no sources in the final stage");
    const [bin, ...args] = [...entrypoint, ...cmd];
    assert.equal(bin, "node");
    const out = execFileSync(process.execPath, args, { cwd: app, encoding: "utf8", env: { ...process.env, NODE_ENV: "production" } });
    assert.match(out, /Usage: calico-migrate/);
    assert.match(out, /controller/);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});
