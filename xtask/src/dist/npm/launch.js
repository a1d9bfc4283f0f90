"use strict";
// Runs one of __APP__'s binaries from the platform package npm installed for this machine
// (one of this package's optionalDependencies, picked by its os, cpu and libc fields): no
// install script, no download. Arguments, stdin/stdout/stderr, signals and the exit status
// pass through. Written by `cargo xtask dist`.

const childProcess = require("child_process");
const os = require("os");
const path = require("path");

const APP = __APP__;
const PLATFORMS = __PLATFORMS__;
const SIGNALS =
  process.platform === "win32" ? ["SIGINT", "SIGTERM", "SIGHUP"] : ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

function thisLibc() {
  if (process.platform !== "linux") return null;
  try {
    if (process.report) process.report.excludeNetwork = true;
    const report = process.report.getReport();
    const header = typeof report === "string" ? JSON.parse(report).header : report.header;
    return header.glibcVersionRuntime ? "glibc" : "musl";
  } catch (_) {
    return "glibc";
  }
}

// The platform npm installs for: npm's own settings (`--os`, `--cpu`, `--libc`) when given,
// else this machine's.
function wanted() {
  return {
    os: process.env.npm_config_os || process.platform,
    cpu: process.env.npm_config_cpu || process.arch,
    libc: process.env.npm_config_libc || thisLibc(),
  };
}

// The packages to look for, best first: the exact platform; the same CPU with the other libc
// (the musl build is static and runs on glibc too); the same OS with another CPU, which runs
// emulated (Rosetta 2, Windows on Arm, Linux's binfmt_misc).
function candidates(want) {
  const rank = (p) => (p.cpu === want.cpu ? 0 : 2) + (p.libc === want.libc ? 0 : 1);
  return PLATFORMS.filter((p) => p.os === want.os).sort((a, b) => rank(a) - rank(b));
}

function locate(command) {
  const want = wanted();
  const tried = [];
  for (const platform of candidates(want)) {
    let manifest;
    try {
      manifest = require.resolve(platform.package + "/package.json");
    } catch (_) {
      tried.push(platform.package);
      continue;
    }
    return path.join(path.dirname(manifest), "bin", command + platform.exe);
  }
  const where = want.os + " " + want.cpu + (want.libc ? " (" + want.libc + ")" : "");
  if (tried.length === 0) {
    const known = PLATFORMS.map((p) => p.os + " " + p.cpu + (p.libc ? " (" + p.libc + ")" : ""));
    fail(
      APP + " has no npm package for " + where + "; it has them for " + known.join(", ") +
        ": install " + APP + " another way (its release archives, or `cargo install " + APP + "`)",
    );
  }
  fail(
    "npm installed none of " + tried.join(", ") + ", the " + APP + " binaries for " + where +
      ": reinstall without --omit=optional (or --no-optional), or add " + tried[0] + " yourself",
  );
}

function fail(message) {
  process.stderr.write(APP + ": " + message + "\n");
  process.exit(1);
}

function run(command) {
  const binary = locate(command);
  const child = childProcess.spawn(binary, process.argv.slice(2), { stdio: "inherit" });
  const forward = (signal) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of SIGNALS) process.on(signal, forward(signal));
  child.on("error", (err) => fail("cannot run " + binary + ": " + err.message));
  child.on("exit", (code, signal) => {
    if (signal === null) process.exit(code);
    // Ended by a signal: end the same way, so a shell sees what it would without npm.
    for (const s of SIGNALS) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    setTimeout(() => process.exit(128 + (os.constants.signals[signal] || 0)), 100);
  });
}

module.exports = { run };
