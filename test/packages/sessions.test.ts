// Packages in real sandboxes: a repository of wheels this file builds and of Debian packages
// repacked from this machine, loaded with no network, before the cell that imports them.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { makeRepository, makeWheel } from "../helpers/repository.ts";
import { hibernateAndWake, run, startTestRuntime } from "../helpers/sandboxes.ts";

const DEBIAN = ["python3-tabulate", "python3-yaml", "python3-bs4", "python3-soupsieve", "python3-jinja2", "python3-markupsafe", "python3-networkx", "python3-mpmath"];

const repository = makeRepository({
  debian: DEBIAN,
  wheels: [
    // A package with a dependency, and a submodule no cell imports before a restore.
    { name: "greeting", files: { "greeting/__init__.py": "from punctuation import MARK\ndef hello(name):\n    return f'hello {name}{MARK}'\n", "greeting/later.py": "WHEN = 'after the restore'\n" }, depends: ["punctuation"] },
    { name: "punctuation", files: { "punctuation.py": "MARK = '!'\n" } },
    // A wheel whose bytes are not the ones the lock's sha256 names, and one that is no archive.
    { name: "tampered", files: { "tampered.py": "X = 1\n" } },
    { name: "garbage", files: { "garbage.py": "X = 1\n" } },
  ],
  edit: (lock, dir) => {
    writeFileSync(join(dir, lock.packages["tampered"]!.file_name), makeWheel({ name: "tampered", files: { "tampered.py": "X = 2\n" } }).bytes);
    const garbage = Buffer.from("this is not a zip archive");
    writeFileSync(join(dir, lock.packages["garbage"]!.file_name), garbage);
    lock.packages["garbage"]!.sha256 = createHash("sha256").update(garbage).digest("hex");
  },
});

const runtime = await startTestRuntime({ poolSize: 1, packages: repository.settings() });
const noRepository = await startTestRuntime({ poolSize: 1 });

test("a cell that imports a package loads it and its dependencies first; before, it is not there", async () => {
  const sandbox = await runtime.pool.take();
  const before = await run(sandbox, "import sys\n'greeting' in sys.modules, 'punctuation' in sys.modules");
  assert.equal(before.value, "(False, False)");
  const result = await run(sandbox, "import greeting\ngreeting.hello('ada')");
  assert.equal(result.error, null);
  assert.equal(result.value, "'hello ada!'");
  assert.equal(result.stdout + result.stderr, "", "loading writes nothing into the cell's output");
  await sandbox.close();
});

test("Debian packages repacked as wheels import and work in a session", async () => {
  const sandbox = await runtime.pool.take();
  const cells: Array<[string, string]> = [
    ["import tabulate\ntabulate.tabulate([[1, 2]], headers=['a', 'b']).splitlines()[-1].split()", "['1', '2']"],
    ["import yaml\nyaml.safe_load('a: [1, 2]\\nb: {c: true}')", "{'a': [1, 2], 'b': {'c': True}}"],
    ["from bs4 import BeautifulSoup\n[a['href'] for a in BeautifulSoup('<p><a href=\"/x\">x</a><a href=\"/y\">y</a></p>', 'html.parser').select('p > a')]", "['/x', '/y']"],
    ["import jinja2\njinja2.Template('{{ who|upper }} & {{ n * 2 }}', autoescape=True).render(who='<ada>', n=21)", "'&lt;ADA&gt; & 42'"],
    ["import networkx as nx\nnx.shortest_path(nx.path_graph(6), 0, 5)", "[0, 1, 2, 3, 4, 5]"],
    ["import mpmath\nmpmath.mp.dps = 30\nstr(mpmath.sqrt(2))", "'1.41421356237309504880168872421'"],
  ];
  for (const [code, expected] of cells) {
    const result = await run(sandbox, code, { timeoutMs: 60_000 });
    assert.equal(result.error, null, `${code}: ${result.error?.message}`);
    assert.equal(result.value, expected, code);
  }
  await sandbox.close();
});

test("micropip.install names a repository package: it loads before the cell, and the cell can use it", async () => {
  const sandbox = await runtime.pool.take();
  const result = await run(sandbox, "import micropip\nmicropip.install('punctuation')\nimport punctuation\npunctuation.MARK, micropip.list()['punctuation']");
  assert.equal(result.error, null, result.error?.message);
  assert.equal(result.value, "('!', '1.0')");
  const pinned = await run(sandbox, "micropip.install('punctuation>=2')");
  assert.match(pinned.error?.message ?? "", /the repository has punctuation 1\.0, which does not satisfy >=2/);
  await sandbox.close();
});

test("micropip.install of a name the cell computes loads a pure-Python package, and its dependencies, on the spot", async () => {
  const sandbox = await runtime.pool.take();
  // No import statement and no literal name: nothing for the scan before the cell to find.
  const code = "import importlib, micropip, sys\nname = ''.join(['gree', 'ting'])\nbefore = 'punctuation' in sys.modules\nmicropip.install(name)\nbefore, importlib.import_module(name).hello('di')";
  const result = await run(sandbox, code);
  assert.equal(result.error, null, result.error?.message);
  assert.equal(result.value, "(False, 'hello di!')");
  const tampered = await run(sandbox, "micropip.install('tam' + 'pered')");
  assert.equal(tampered.error?.type, "ImportError");
  assert.match(tampered.error!.message, /tampered-1\.0-py3-none-any\.whl does not match its sha256/);
  const woken = await hibernateAndWake(runtime, sandbox);
  assert.equal((await run(woken, "importlib.import_module('greeting').hello('ed')")).value, "'hello ed!'", "and it survives hibernation as the others do");
  await woken.close();
});

test("a package the repository does not know fails with the names of those it has", async () => {
  const sandbox = await runtime.pool.take();
  const result = await run(sandbox, "import micropip\nmicropip.install('no-such-package')");
  assert.equal(result.error?.type, "PackageNotFoundError");
  assert.match(result.error!.message, /no package named 'no-such-package' in this server's package repository; available: .*greeting.*tabulate/);
  const imported = await run(sandbox, "import no_such_package");
  assert.equal(imported.error?.type, "ModuleNotFoundError");
  await sandbox.close();
});

test("a damaged wheel is an ImportError of the cell, never a silent success", async () => {
  const sandbox = await runtime.pool.take();
  const tampered = await run(sandbox, "import tampered\ntampered.X");
  assert.equal(tampered.error?.type, "ImportError");
  assert.match(tampered.error!.message, /could not load tampered from the package repository: .*does not match its sha256/);
  const garbage = await run(sandbox, "import garbage");
  assert.equal(garbage.error?.type, "ImportError");
  assert.match(garbage.error!.message, /could not load garbage from the package repository: .*not a valid wheel/);
  assert.equal((await run(sandbox, "1 + 1")).value, "2", "the session goes on");
  await sandbox.close();
});

test("a package loaded on demand works after hibernation: its modules, and a submodule first imported after the wake", async () => {
  const sandbox = await runtime.pool.take();
  assert.equal((await run(sandbox, "import greeting, yaml\ngreeting.hello('bo')")).value, "'hello bo!'");
  const woken = await hibernateAndWake(runtime, sandbox);
  const result = await run(woken, "import greeting.later, importlib.metadata\ngreeting.hello('cy'), greeting.later.WHEN, yaml.safe_dump({'k': 1}).strip(), importlib.metadata.version('greeting')");
  assert.equal(result.error, null, result.error?.message);
  assert.equal(result.value, "('hello cy!', 'after the restore', 'k: 1', '1.0')");
  await woken.close();
});

test("code the scan before the cell cannot parse is the cell's own error, and the sandbox goes on", async () => {
  const sandbox = await runtime.pool.take();
  for (const code of ["import (", "-".repeat(200_000) + "1", "import tabulate\n" + "(".repeat(300) + ")".repeat(300)]) {
    const result = await run(sandbox, code);
    assert.ok(result.error && result.state_preserved, `${code.slice(0, 20)}: ${result.error?.type}`);
  }
  assert.equal((await run(sandbox, "import tabulate\ntabulate.__name__")).value, "'tabulate'");
  await sandbox.close();
});

test("without a repository micropip says there is none, and imports fail as before", async () => {
  const sandbox = await noRepository.pool.take();
  const result = await run(sandbox, "import micropip\nmicropip.install('tabulate')");
  assert.equal(result.error?.type, "PackageNotFoundError");
  assert.match(result.error!.message, /available: none: this server has no package repository \(PYODIDE_PACKAGES_DIR\)/);
  assert.equal((await run(sandbox, "import numpy")).error?.type, "ModuleNotFoundError");
  await sandbox.close();
});
