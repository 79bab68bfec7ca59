import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { CliIo } from "../io.js";
import { buildProgram, runCli } from "../program.js";

function io(): CliIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    isTTY: false,
    now: () => Date.now(),
    env: {},
    out: () => out,
    err: () => err,
  };
}

const COMMANDS = ["plan", "start", "watch", "status", "conflicts", "switch-components", "abort", "finalize", "report"];

test("every command's --help exits 0 and shows examples", async () => {
  for (const c of COMMANDS) {
    const o = io();
    assert.equal(await runCli([c, "--help"], o), 0, c);
    assert.match(o.out(), /Examples:\n {2}\S/, `${c} --help has examples`);
    assert.match(o.out(), new RegExp(`Usage: calico-migrate ${c}`));
  }
  const o = io();
  assert.equal(await runCli(["--help"], o), 0);
  assert.match(o.out(), /Exit codes: 0 done, 1 refused or blocked, 2 usage error, 3 timeout, 4 other error/);
});

test("usage errors exit 2 and say what was expected", async () => {
  const cases: [string[], RegExp][] = [
    [["status", "--bogus"], /unknown option '--bogus'/],
    [["status", "-o", "xml"], /argument 'xml' is invalid\. Allowed choices are table, json, yaml/],
    [["report", "-o", "csv"], /Allowed choices are table, markdown, json, yaml/],
    [["watch", "--timeout", "5 minutes"], /expected a duration such as 30s, 5m or 1h30m/],
    [["watch", "--timeout", "-5s"], /non-negative duration/],
    [["watch", "--until", "Failed"], /Allowed choices are Migrating, WaitingForConflictResolution, Converged, Complete/],
    [["status", "extra"], /too many arguments/],
    [["migrate"], /unknown command 'migrate'/],
    [[], /Usage: calico-migrate/],
  ];
  for (const [argv, message] of cases) {
    const o = io();
    assert.equal(await runCli(argv, o), 2, argv.join(" "));
    assert.match(o.err(), message, argv.join(" "));
  }
});

test("--version prints package.json's version and exits 0", async () => {
  const o = io();
  assert.equal(await runCli(["--version"], o), 0);
  const pkg = JSON.parse(fs.readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  assert.equal(o.out(), `${pkg.version}\n`);
});

test("an unreachable API server is exit 4 with the server and the fix, without a stack trace", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calico-migrate-"));
  const kubeconfig = path.join(dir, "kubeconfig");
  fs.writeFileSync(kubeconfig, [
    "apiVersion: v1", "kind: Config", "current-context: c",
    "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]",
    "users: [{name: u, user: {token: t}}]", "contexts: [{name: c, context: {cluster: c, user: u}}]",
  ].join("\n"));
  const o = io();
  assert.equal(await runCli(["status", "--kubeconfig", kubeconfig], o), 4);
  assert.match(o.err(), /^error: cannot reach the Kubernetes API server/);
  assert.match(o.err(), /Fix: check --kubeconfig/);
  assert.doesNotMatch(o.err(), /\n\s+at /);
  const bad = io();
  assert.equal(await runCli(["status", "--kubeconfig", kubeconfig, "--context", "nope"], bad), 4);
  assert.match(bad.err(), /context "nope" not found/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("the program registers every command plus controller", () => {
  const names = buildProgram(io()).commands.map((c) => c.name());
  assert.deepEqual(names.sort(), [...COMMANDS, "controller"].sort());
});

test("controller: --workers is not a flag (there is one object to reconcile), so it is refused rather than ignored", async () => {
  const o = io();
  assert.equal(await runCli(["controller", "--workers", "4"], o), 2);
  assert.match(o.err(), /controller: Unknown option '--workers'/);
  const help = io();
  assert.equal(await runCli(["controller", "--help"], help), 0);
  assert.doesNotMatch(help.out(), /--workers/);
});
