// The Dockerfile, read as text (no Docker engine needed): every stage and COPY source exists, the
// image runs as a non-root user and matches what the Kubernetes manifests expect of it.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { test } from "node:test";
import { REPO, rendered } from "./render.ts";

interface Instruction {
  keyword: string;
  /** The rest of the line, continuation lines joined. */
  args: string;
  line: number;
}

interface Stage {
  name: string;
  index: number;
  base: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into instructions: comments and blank lines dropped, `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | null = null;
  text.split("\n").forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === null && (line.trim() === "" || line.trimStart().startsWith("#"))) return;
    if (pending !== null && line.trimStart().startsWith("#")) return; // comments inside a continued instruction
    const continued = line.endsWith("\\");
    const part = continued ? line.slice(0, -1) : line;
    pending = pending === null ? { text: part.trim(), line: index + 1 } : { text: `${pending.text} ${part.trim()}`, line: pending.line };
    if (!continued) {
      const match = /^(\w+)\s*(.*)$/s.exec(pending.text);
      assert.ok(match, `line ${pending.line}: an instruction`);
      instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: pending.line });
      pending = null;
    }
  });
  assert.equal(pending, null, "no instruction ends in a continuation");
  return instructions;
}

function stagesOf(instructions: Instruction[]): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      assert.ok(match, `line ${instruction.line}: FROM image [AS name]`);
      const base = match[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args.get((a ?? b)!) ?? "");
      stages.push({ name: match[2] ?? String(stages.length), index: stages.length, base, instructions: [] });
    } else if (stages.length === 0) {
      assert.equal(instruction.keyword, "ARG", `line ${instruction.line}: only ARG before the first FROM`);
      const [name, value = ""] = instruction.args.split("=", 2);
      args.set(name!, value);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

/** COPY/ADD flags and operands; the exec (JSON array) form too. */
function copyOperands(args: string): { flags: Map<string, string>; sources: string[]; destination: string } {
  const flags = new Map<string, string>();
  let rest = args;
  for (let match = /^--([\w-]+)(?:=(\S+))?\s+/.exec(rest); match; match = /^--([\w-]+)(?:=(\S+))?\s+/.exec(rest)) {
    flags.set(match[1]!, match[2] ?? "true");
    rest = rest.slice(match[0].length);
  }
  const operands = rest.startsWith("[") ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  assert.ok(operands.length >= 2, `COPY ${args}: a source and a destination`);
  return { flags, sources: operands.slice(0, -1), destination: operands.at(-1)! };
}

/** The paths a stage (and the stages it is built FROM) creates: WORKDIRs, COPY destinations, absolute paths in RUN and ENV. */
function pathsMadeBy(stage: Stage, stages: Stage[]): string[] {
  const parent = stages.find((candidate) => candidate.name === stage.base && candidate.index < stage.index);
  const paths = parent ? pathsMadeBy(parent, stages) : [];
  let workdir = parent ? (parent.instructions.filter((instruction) => instruction.keyword === "WORKDIR").at(-1)?.args ?? "/") : "/";
  for (const instruction of stage.instructions) {
    if (instruction.keyword === "WORKDIR") {
      workdir = posix.resolve(workdir, instruction.args);
      paths.push(workdir);
    } else if (instruction.keyword === "COPY") {
      paths.push(posix.resolve(workdir, copyOperands(instruction.args).destination));
    } else if (instruction.keyword === "RUN" || instruction.keyword === "ENV") {
      for (const match of instruction.args.matchAll(/(?:^|[\s="'])(\/[\w./-]+)/g)) paths.push(match[1]!.replace(/\/+$/, ""));
    }
  }
  return paths;
}

/** .dockerignore semantics: the last pattern matching the path or one of its parents decides. */
function ignoredByDockerignore(path: string, patterns: string[]): boolean {
  const toRegExp = (pattern: string) =>
    new RegExp(
      `^${pattern
        .replace(/^\/+|\/+$/g, "")
        .split("/")
        .map((segment) => (segment === "**" ? "(?:.*)" : segment.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")))
        .join("/")
        .replace(/\(\?:\.\*\)\//g, "(?:.*/)?")}$`,
    );
  const clean = path.replace(/^\.\/|\/+$/g, "");
  const prefixes = clean.split("/").map((_, index, parts) => parts.slice(0, index + 1).join("/"));
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = toRegExp(negated ? raw.slice(1) : raw);
    if (prefixes.some((prefix) => pattern.test(prefix))) ignored = !negated;
  }
  return ignored;
}

const dockerfile = readFileSync(join(REPO, "Dockerfile"), "utf8");
const instructions = parseDockerfile(dockerfile);
const { args, stages } = stagesOf(instructions);
const final = stages.at(-1)!;
const dockerignore = readFileSync(join(REPO, ".dockerignore"), "utf8")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));

function finalEnv(): Map<string, string> {
  const env = new Map<string, string>();
  for (const instruction of final.instructions.filter((candidate) => candidate.keyword === "ENV")) {
    for (const match of instruction.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env.set(match[1]!, match[2]!.replace(/^"|"$/g, ""));
  }
  return env;
}

test("the Dockerfile parser sees stages, flags and continuations", () => {
  const parsed = stagesOf(parseDockerfile('ARG IMG=node:20\nFROM ${IMG} AS one\n# note\nRUN a \\\n  # inside\n  && b\nFROM one AS two\nCOPY --from=one --chown=1:1 /x /y\n'));
  assert.deepEqual(
    parsed.stages.map((stage) => [stage.name, stage.base]),
    [
      ["one", "node:20"],
      ["two", "one"],
    ],
  );
  assert.equal(parsed.stages[0]!.instructions[0]!.args, "a && b");
  assert.deepEqual([...copyOperands("--from=one --chown=1:1 /x /y").flags], [
    ["from", "one"],
    ["chown", "1:1"],
  ]);
  assert.ok(ignoredByDockerignore("test/k8s", ["*", "!server/"]));
  assert.ok(!ignoredByDockerignore("server/main.ts", ["*", "!server/"]));
  assert.ok(ignoredByDockerignore("server/node_modules/x", ["*", "!server/", "**/node_modules"]));
});

test("stages: named, in order, each FROM an image or an earlier stage", () => {
  const names = stages.map((stage) => stage.name);
  assert.equal(new Set(names).size, names.length, "stage names are unique");
  assert.deepEqual(names, ["deps", "packages", "snapshot", "runtime"]);
  for (const stage of stages) {
    const earlier = stages.find((candidate) => candidate.name === stage.base);
    if (earlier) assert.ok(earlier.index < stage.index, `${stage.name} is built FROM an earlier stage`);
    else assert.match(stage.base, /^node:20[\w.-]*-slim$/, `${stage.name}: a node:20 slim image (the engines of package.json)`);
  }
});

test("every COPY source exists: in the build context, or made by an earlier stage", () => {
  let copies = 0;
  for (const stage of stages) {
    for (const instruction of stage.instructions.filter((candidate) => candidate.keyword === "COPY" || candidate.keyword === "ADD")) {
      assert.equal(instruction.keyword, "COPY", `line ${instruction.line}: COPY, not ADD`);
      copies++;
      const { flags, sources } = copyOperands(instruction.args);
      const from = flags.get("from");
      if (from === undefined) {
        for (const source of sources) {
          assert.ok(existsSync(join(REPO, source)), `line ${instruction.line}: ${source} exists in the repository`);
          assert.ok(!ignoredByDockerignore(source, dockerignore), `line ${instruction.line}: ${source} is not excluded by .dockerignore`);
        }
        continue;
      }
      const origin = stages.find((candidate) => candidate.name === from);
      assert.ok(origin && origin.index < stage.index, `line ${instruction.line}: --from=${from} names an earlier stage`);
      const made = pathsMadeBy(origin, stages);
      for (const source of sources) {
        assert.ok(
          made.some((path) => source === path || source.startsWith(`${path}/`)),
          `line ${instruction.line}: ${source} is made by stage ${from} (it makes ${made.join(", ")})`,
        );
      }
    }
  }
  assert.ok(copies > 0);
  // What the server needs at run time, copied into the final stage from the context.
  const copied = final.instructions.filter((instruction) => instruction.keyword === "COPY" && !instruction.args.includes("--from=")).flatMap((instruction) => copyOperands(instruction.args).sources);
  for (const needed of ["package.json", "package-lock.json", "server/", "protocol/", "rlm/"]) assert.ok(copied.includes(needed), `the image has ${needed}`);
});

test("dependencies: npm ci without devDependencies, with the server workspace's, install scripts on (the Deno binary), tsx kept", () => {
  const deps = stages.find((stage) => stage.name === "deps")!;
  const run = deps.instructions.filter((instruction) => instruction.keyword === "RUN").map((instruction) => instruction.args).join(" ");
  assert.match(run, /npm ci\b[^&;]*--omit=dev/);
  assert.doesNotMatch(run, /--ignore-scripts/, "the deno package links its binary in a postinstall script");
  assert.match(run, /install_api\.cjs/, "the build fails when the Deno binary is missing");
  // The server's runtime dependencies are the workspace server/'s, which npm ci installs with the root's.
  const root = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { workspaces: string[] };
  assert.ok(root.workspaces.includes("server"), "server/ is a workspace of the root package");
  const depsCopied = deps.instructions.filter((instruction) => instruction.keyword === "COPY").flatMap((instruction) => copyOperands(instruction.args).sources);
  for (const manifest of ["package.json", "package-lock.json", "server/package.json"]) assert.ok(depsCopied.includes(manifest), `${manifest} is there for npm ci`);
  const server = JSON.parse(readFileSync(join(REPO, "server/package.json"), "utf8")) as { dependencies: Record<string, string> };
  for (const runtime of ["tsx", "deno", "pyodide"]) assert.ok(server.dependencies[runtime], `${runtime} is a runtime dependency of the server, kept by --omit=dev`);
  const snapshot = stages.find((stage) => stage.name === "snapshot")!;
  assert.ok(snapshot.instructions.some((instruction) => instruction.keyword === "RUN" && /npm run build/.test(instruction.args)), "the snapshot stage builds the base snapshot");
});

test("the final image: a non-root user, a health check, the server as PID 1, what Kubernetes expects", () => {
  const users = final.instructions.filter((instruction) => instruction.keyword === "USER");
  assert.ok(users.length > 0, "the final stage sets USER");
  const user = users.at(-1)!.args;
  assert.doesNotMatch(user, /^(root|0)(:|$)/, "not root");
  assert.match(user, /^\d+(:\d+)?$/, "a numeric uid, which runAsNonRoot can verify");
  const uid = Number(user.split(":")[0]);
  const deployment = rendered("k8s").get("apps/v1/Deployment", "wasm-repl");
  assert.equal(deployment.spec?.template.spec?.securityContext?.runAsUser, uid, "the manifests run the image's uid");

  const healthcheck = final.instructions.find((instruction) => instruction.keyword === "HEALTHCHECK");
  assert.ok(healthcheck, "HEALTHCHECK");
  assert.match(healthcheck.args, /CMD .*node.*\/health/, "node asks /health");
  assert.doesNotMatch(healthcheck.args, /\b(curl|wget)\b/, "no curl or wget in the slim image");

  const cmd = final.instructions.find((instruction) => instruction.keyword === "CMD");
  assert.ok(cmd);
  const argv = JSON.parse(cmd.args) as string[];
  assert.equal(argv[0], "node", "exec form with node itself: SIGTERM reaches the server");
  assert.ok(argv.includes("server/main.ts") && existsSync(join(REPO, "server/main.ts")));

  const env = finalEnv();
  assert.equal(env.get("HOST"), "0.0.0.0");
  assert.equal(env.get("PORT"), "8000");
  assert.ok(final.instructions.some((instruction) => instruction.keyword === "EXPOSE" && instruction.args.split(/\s+/).includes(env.get("PORT")!)), "EXPOSE the port");
  const cacheDir = env.get("CACHE_DIR");
  assert.ok(cacheDir, "CACHE_DIR is set");
  const server = deployment.spec!.template.spec!.containers.find((container) => container.name === "server")!;
  assert.equal(server.env?.find((entry) => entry.name === "CACHE_DIR")?.value, cacheDir, "the pod's CACHE_DIR is the image's");
  const baked = final.instructions.find((instruction) => instruction.keyword === "COPY" && instruction.args.includes("--from=snapshot"));
  assert.ok(baked, "the base snapshot is copied from the snapshot stage");
  const { sources, destination, flags } = copyOperands(baked.args);
  assert.equal(destination, cacheDir, "into CACHE_DIR");
  const snapshotEnv = stages.find((stage) => stage.name === "snapshot")!.instructions.find((instruction) => instruction.keyword === "ENV" && instruction.args.startsWith("CACHE_DIR="))!;
  assert.deepEqual(sources, [/^CACHE_DIR=(\S+)/.exec(snapshotEnv.args)![1]]);
  assert.equal(flags.get("chown")?.split(":")[0], String(uid), "writable by the server");
  // The init container copies the image's CACHE_DIR into the pod's emptyDir.
  const seed = deployment.spec!.template.spec!.initContainers?.find((container) => container.name === "seed-cache");
  assert.ok(seed?.command?.some((word) => word.startsWith(cacheDir)), "the init container seeds from CACHE_DIR");
});

test("the package repository: npm run packages from Debian's packages and, optionally, the Pyodide release, where PYODIDE_PACKAGES_DIR points", () => {
  const packages = stages.find((stage) => stage.name === "packages")!;
  const argOf = (stage: Stage, name: string) => stage.instructions.find((instruction) => instruction.keyword === "ARG" && instruction.args.split("=")[0] === name)?.args.slice(name.length + 1);
  assert.equal(argOf(packages, "PYODIDE_FULL"), "false", "the full release is a build argument, off by default");
  const run = packages.instructions.filter((instruction) => instruction.keyword === "RUN").map((instruction) => instruction.args).join(" ");
  // The steps the README gives, in the order it gives them (test/packages/repository.test.ts runs
  // the same command on a release tarball laid out as Pyodide publishes it).
  const steps = [/apt-get install -y --no-install-recommends [^;]*\$DEBIAN_PACKAGES/, /if \[ "\$PYODIDE_FULL" = "true" \]/, /url="[^"]*pyodide-\$\{version\}\.tar\.bz2/, /curl [^;]*"\$url"/, /npm run packages -- \$release --debian [^;]*--check --out \/opt\/pyodide-packages/, /test -f \/opt\/pyodide-packages\/pyodide-lock\.json/];
  let at = 0;
  for (const step of steps) {
    const match = step.exec(run.slice(at));
    assert.ok(match, `the packages stage runs ${step} (after the steps before it)`);
    at += match.index + match[0].length;
  }
  const debian = argOf(packages, "DEBIAN_PACKAGES")!.replace(/^"|"$/g, "").split(/\s+/);
  const ci = readFileSync(join(REPO, ".ci/run"), "utf8");
  for (const name of debian) assert.match(ci, new RegExp(`\\b${name}\\b`), `${name}: CI installs it, so the tests that repack it run`);
  assert.ok(/### Packages/.test(readFileSync(join(REPO, "README.md"), "utf8")), "the README documents them");

  const env = finalEnv();
  assert.equal(env.get("PYODIDE_PACKAGES_DIR"), "/opt/pyodide-packages");
  const copied = final.instructions.find((instruction) => instruction.keyword === "COPY" && instruction.args.includes("--from=packages"));
  assert.ok(copied, "the runtime has the repository");
  assert.deepEqual([copyOperands(copied.args).sources, copyOperands(copied.args).destination], [["/opt/pyodide-packages"], "/opt/pyodide-packages"]);
  assert.equal(copyOperands(copied.args).flags.get("chown"), undefined, "owned by root: the server only reads it");
  // The baked snapshot's key includes the preloaded packages: the snapshot stage must see the runtime's settings.
  const snapshot = stages.find((stage) => stage.name === "snapshot")!;
  const snapshotEnv = snapshot.instructions.filter((instruction) => instruction.keyword === "ENV").map((instruction) => instruction.args).join(" ");
  for (const name of ["PYODIDE_PACKAGES_DIR", "PRELOAD_PACKAGES"]) {
    assert.match(snapshotEnv, new RegExp(`\\b${name}=${env.get(name)!.replace(/[$/{}]/g, "\\$&")}(\\s|$)`), `the snapshot stage builds with the runtime's ${name}`);
  }
  assert.equal(argOf(snapshot, "PRELOAD_PACKAGES"), "");
  assert.equal(argOf(final, "PRELOAD_PACKAGES"), "");
  assert.ok(snapshot.instructions.some((instruction) => instruction.keyword === "COPY" && instruction.args.includes("--from=packages")), "the snapshot stage loads the preloaded packages from the same repository");
  assert.equal(args.get("NODE_IMAGE"), "node:20-bookworm-slim");
});
