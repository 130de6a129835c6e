// Building a repository (`npm run packages`) and reading one (PYODIDE_PACKAGES_DIR): wheels whose
// RECORD a real Python accepts, Debian packages repacked with their lock entries, a Pyodide
// release's tarball laid out as the Dockerfile has it, and configuration errors naming the variable.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ConfigError, loadConfig } from "../../server/config.ts";
import { LOCK_FILE, type LockFile } from "../../server/packages/lock.ts";
import { lockEntry, makeRepository, makeWheel, settingsOf } from "../helpers/repository.ts";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";

const REPO = new URL("../..", import.meta.url).pathname;
const NPM_LOCK = JSON.parse(readFileSync(join(REPO, "node_modules/pyodide/pyodide-lock.json"), "utf8")) as LockFile;

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "wasm-repl-repository-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// The host's own Python checks the archive: every entry's sha256 and size as RECORD lists them.
const CHECK_RECORD = `
import base64, csv, hashlib, io, sys, zipfile
archive = zipfile.ZipFile(sys.argv[1])
assert archive.testzip() is None
record = next(name for name in archive.namelist() if name.endswith(".dist-info/RECORD"))
rows = list(csv.reader(io.TextIOWrapper(archive.open(record), "utf-8")))
for path, digest, size in rows:
    if path == record:
        assert digest == "" and size == ""
        continue
    data = archive.read(path)
    assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode(), path
    assert int(size) == len(data), path
assert sorted(path for path, _, _ in rows) == sorted(archive.namelist())
wheel = archive.read(record.replace("RECORD", "WHEEL")).decode()
assert "Tag: py3-none-any" in wheel and "Root-Is-Purelib: true" in wheel
print(len(rows))
`;

test("a wheel's RECORD lists every file with its sha256 and size, as a real Python checks it", () => {
  const wheel = makeWheel({ name: "Some.Thing", version: "2.0-1", files: { "some_thing/__init__.py": "A = 1\n", "some_thing/data, with comma.txt": "x" } });
  assert.equal(wheel.fileName, "Some_Thing-2.0_1-py3-none-any.whl");
  const path = join(scratch(), wheel.fileName);
  writeFileSync(path, wheel.bytes);
  assert.equal(execFileSync("python3", ["-c", CHECK_RECORD, path], { encoding: "utf8" }).trim(), "6", "two files, METADATA, WHEEL, top_level.txt and RECORD");
  assert.equal(wheel.sha256, createHash("sha256").update(wheel.bytes).digest("hex"));
});

test("Debian packages are repacked with their version, imports, dependencies and sha256; compiled files left out", () => {
  const { dir, lock } = makeRepository({ debian: ["python3-bs4", "python3-soupsieve", "python3-yaml", "python3-mpmath"] });
  const bs4 = lock.packages["beautifulsoup4"]!;
  assert.deepEqual([bs4.imports, bs4.depends, bs4.file_name], [["bs4"], ["soupsieve"], "beautifulsoup4-4.11.2-py3-none-any.whl"]);
  assert.deepEqual(lock.packages["pyyaml"]!.imports, ["yaml"], "its private _yaml module is no import name");
  assert.equal(lock.packages["mpmath"]!.version, "1.2.1", "Debian's egg-info says 0.0.0: the package's own version is taken");
  assert.deepEqual(lock.info, NPM_LOCK.info, "without a release, the lock is for the npm package's Pyodide");
  for (const entry of Object.values(lock.packages)) {
    const path = join(dir, entry.file_name);
    assert.equal(createHash("sha256").update(readFileSync(path)).digest("hex"), entry.sha256, entry.name);
    execFileSync("python3", ["-c", CHECK_RECORD, path]);
  }
  const yamlFiles = execFileSync("python3", ["-c", "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", join(dir, lock.packages["pyyaml"]!.file_name)], { encoding: "utf8" });
  assert.doesNotMatch(yamlFiles, /\.so\b/);
  assert.match(yamlFiles, /^yaml\/__init__\.py$/m);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")), lock);
});

test("the Dockerfile's path: a Pyodide release tarball and Debian packages make one repository the server loads from", async () => {
  // A release as Pyodide publishes it: pyodide/ holding the lock file and the wheels it names.
  const release = scratch();
  mkdirSync(join(release, "pyodide"));
  const source = { name: "from-release", files: { "from_release.py": "ORIGIN = 'the release'\n" } };
  const wheel = makeWheel(source);
  writeFileSync(join(release, "pyodide", wheel.fileName), wheel.bytes);
  writeFileSync(join(release, "pyodide", "pyodide.asm.wasm"), "not copied: the server's Pyodide is the npm package's");
  writeFileSync(join(release, "pyodide", LOCK_FILE), JSON.stringify({ info: NPM_LOCK.info, packages: { "from-release": lockEntry(source, wheel) } }));
  const tarball = join(release, "pyodide-test.tar.bz2");
  execFileSync("tar", ["-cjf", tarball, "-C", release, "pyodide"]);
  const out = join(scratch(), "packages");
  // As the Dockerfile runs it.
  const log = execFileSync("npm", ["run", "--silent", "packages", "--", "--release", tarball, "--debian", "python3-tabulate", "--out", out], { cwd: REPO, encoding: "utf8" });
  assert.match(log, /copied 1 packages of the release/);
  const lock = JSON.parse(readFileSync(join(out, LOCK_FILE), "utf8")) as LockFile;
  assert.deepEqual(Object.keys(lock.packages), ["from-release", "tabulate"]);
  const tabulateFiles = execFileSync("python3", ["-c", "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", join(out, lock.packages["tabulate"]!.file_name)], { encoding: "utf8" });
  assert.match(tabulateFiles, /^tabulate\.pyc$/m, "the repacked package carries its bytecode, compiled by Pyodide's Python");
  assert.match(log, /tabulate: 1 modules compiled for Python 3\.14/);
  const runtime = await startTestRuntime({ poolSize: 0, packages: settingsOf(out) });
  const sandbox = await runtime.start();
  const result = await run(sandbox, "import from_release, tabulate\nfrom_release.ORIGIN, tabulate.__name__");
  assert.equal(result.value, "('the release', 'tabulate')", result.error?.message);
  await sandbox.close();
});

test("configuration errors name the variable and say what is wrong", () => {
  const { dir } = makeRepository({ wheels: [{ name: "plain", files: { "plain.py": "" } }], edit: (lock) => void (lock.packages["compiled"] = { ...lock.packages["plain"]!, name: "compiled", file_name: "compiled-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl" }) });
  const other = makeRepository({ edit: (lock) => void (lock.info = { ...lock.info, abi_version: "1999_0" }) });
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };
  assert.match(problems({ PYODIDE_PACKAGES_DIR: "/nonexistent/packages" })[0]!, /^PYODIDE_PACKAGES_DIR="\/nonexistent\/packages": .* is not a directory/);
  assert.match(problems({ PYODIDE_PACKAGES_DIR: tmpdir() })[0]!, /^PYODIDE_PACKAGES_DIR=.*has no pyodide-lock\.json/);
  assert.match(problems({ PYODIDE_PACKAGES_DIR: other.dir })[0]!, /^PYODIDE_PACKAGES_DIR=.*ABI 1999_0/);
  assert.match(problems({ PRELOAD_PACKAGES: "plain" })[0]!, /^PRELOAD_PACKAGES is set without PYODIDE_PACKAGES_DIR/);
  assert.match(problems({ PYODIDE_PACKAGES_DIR: dir, PRELOAD_PACKAGES: "nope" })[0]!, /^PRELOAD_PACKAGES: the repository \(PYODIDE_PACKAGES_DIR\) has no package "nope"/);
  assert.match(problems({ PYODIDE_PACKAGES_DIR: dir, PRELOAD_PACKAGES: "compiled" })[0]!, /^PRELOAD_PACKAGES: compiled has compiled code/);
  assert.match(problems({ PACKAGE_MAX_WHEEL_MB: "0" })[0]!, /^PACKAGE_MAX_WHEEL_MB="0"/);
  assert.deepEqual(loadConfig({ PYODIDE_PACKAGES_DIR: dir, PRELOAD_PACKAGES: "Plain" }).packages.preload, ["plain"], "names as the lock keys them");
  assert.deepEqual(loadConfig({}).packages, { dir: null, preload: [], digest: "" });
});
