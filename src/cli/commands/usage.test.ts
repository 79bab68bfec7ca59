import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { formatDuration } from "../../kube/duration.js";
import { DEFAULT_DRAIN_PERIOD_MS } from "../../migration/drain.js";
import type { CliIo } from "../io.js";
import { controllerConfig } from "./controller.js";
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

test("plan --help says exactly what plan writes to the cluster and removes again, instead of claiming it changes nothing", async () => {
  const o = io();
  assert.equal(await runCli(["plan", "--help"], o), 0);
  const out = o.out();
  assert.doesNotMatch(out, /changing nothing/);
  assert.match(out, /changes no Calico object, but its validation writes scratch objects and removes\s+them/);
  assert.match(out, /What plan writes:\n {2}No Calico object is changed\. The server-side validation dry-runs every converted object\n {2}\(nothing is stored\); for it, plan writes:\n/);
  assert.match(out, /- Namespace calico-datastore-migration, if missing \(the controller's namespace; it stays\)/);
  assert.match(out, /- Lease calico-datastore-migration\/calico-datastore-migration-validation \(one validation at a time\): deleted at the end/);
  assert.match(out, /- a copy of every v3 CRD in the group validation\.migration\.projectcalico\.org: deleted at the end/);
  assert.match(out, /- 4 copies of Calico's mutating admission policies and bindings, named \*\.validation\.migration\.projectcalico\.org: deleted at the end/);
  assert.match(out, /With --no-validate or --emit-rbac, plan writes nothing\./);
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
  assert.match(o.err(), /unknown option '--workers'/);
  const help = io();
  assert.equal(await runCli(["controller", "--help"], help), 0);
  assert.doesNotMatch(help.out(), /--workers/);
});

test("controller: one flag parser with the rest of the CLI — generated help lists every flag with its default, bad values exit 2", async () => {
  const help = io();
  assert.equal(await runCli(["controller", "--help"], help), 0);
  const out = help.out();
  assert.match(out, /Usage: calico-migrate controller \[options\]/);
  assert.match(out, /Examples:\n {2}calico-migrate controller/);
  for (const flag of ["--drain-period <duration>", "--poll-interval <duration>", "--copy-concurrency <n>", "--leader-elect", "--namespace <name>", "--locked-warning <duration>",
    "--components-namespace <name>", "--metrics-bind-address <addr>", "--health-probe-bind-address <addr>", "--no-validate", "--kubeconfig <path>", "--context <name>"]) {
    assert.ok(out.includes(flag), `controller --help lists ${flag}`);
  }
  // The defaults shown are the configuration's, from the one constant.
  assert.match(out, new RegExp(`--drain-period <duration>[^]*?\\(default: ${formatDuration(DEFAULT_DRAIN_PERIOD_MS)}\\)`));
  assert.match(out, /--copy-concurrency <n>[^]*?\(default: 16\)/);
  const cases: [string[], RegExp][] = [
    [["controller", "--drain-period", "ten seconds"], /option '--drain-period <duration>' argument 'ten seconds' is invalid\. expected a duration/],
    [["controller", "--copy-concurrency", "0"], /option '--copy-concurrency <n>' argument '0' is invalid\. expected a positive whole number, got "0"/],
    [["controller", "extra"], /too many arguments/],
  ];
  for (const [argv, message] of cases) {
    const o = io();
    assert.equal(await runCli(argv, o), 2, argv.join(" "));
    assert.match(o.err(), message, argv.join(" "));
  }
});

test("controller: the flags become the configuration (namespace defaults to the pod's in-cluster)", () => {
  const parse = (argv: string[], inCluster?: string) => {
    const program = buildProgram(io());
    const cmd = program.commands.find((c) => c.name() === "controller");
    assert.ok(cmd);
    cmd.action(() => undefined);
    program.parse(["controller", ...argv], { from: "user" });
    return controllerConfig(cmd.opts(), inCluster);
  };
  const defaults = parse([]);
  assert.deepEqual({ ...defaults, fullPlanIntervalMs: 0 }, {
    drainPeriodMs: DEFAULT_DRAIN_PERIOD_MS, pollIntervalMs: 10_000, copyConcurrency: 16, leaderElect: false, namespace: "calico-datastore-migration", lockedWarningMs: 300_000, refusalGraceMs: 120_000, settleQuietMs: 1500, restoreQuietMs: 10_000, precopy: true,
    componentsNamespace: undefined, metricsBindAddress: ":8080", healthProbeBindAddress: ":8081", validate: true, fullPlanIntervalMs: 0,
  });
  assert.equal(parse([], "kube-system").namespace, "kube-system");
  const c = parse(["--drain-period", "1s", "--poll-interval=500ms", "--copy-concurrency", "4", "--leader-elect", "--namespace", "ns", "--locked-warning", "1m", "--refusal-grace", "30s", "--settle-quiet", "5s", "--restore-quiet", "20s", "--no-precopy",
    "--components-namespace", "kube-system", "--metrics-bind-address", "0", "--health-probe-bind-address", "127.0.0.1:0", "--no-validate"], "ignored");
  assert.deepEqual(c, { ...defaults, drainPeriodMs: 1000, pollIntervalMs: 500, copyConcurrency: 4, leaderElect: true, namespace: "ns", lockedWarningMs: 60_000, refusalGraceMs: 30_000, settleQuietMs: 5000, restoreQuietMs: 20_000, precopy: false,
    componentsNamespace: "kube-system", metricsBindAddress: "0", healthProbeBindAddress: "127.0.0.1:0", validate: false });
});
