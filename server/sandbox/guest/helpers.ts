// The server's Python helpers: which modules, in which order, and how each is installed. They are
// installed when the base snapshot is built and again at every restore of a session's snapshot:
// that holds the modules the session had, which its code may have changed, so each module is
// made again from the server's source and only the session's data is adopted from the one it
// replaces (bootstrap.py, `adopt`).

/** In the order they are installed: a module may import those before it. */
const HELPER_MODULES = [
  { name: "_wasm_repl_display", file: "display.py" },
  { name: "_wasm_repl_introspect", file: "introspect.py" },
  { name: "_wasm_repl_packages", file: "packages.py" },
  { name: "micropip", file: "micropip.py" },
  { name: "_wasm_repl", file: "bootstrap.py" },
] as const;

/** The modules' sources, in HELPER_MODULES' order (read before the worker revokes its permissions). */
export function readHelperSources(): Promise<string[]> {
  return Promise.all(HELPER_MODULES.map(({ file }) => Deno.readTextFile(new URL(file, import.meta.url))));
}

type PyCallable = (...args: unknown[]) => unknown;

/** The part of Pyodide's API installing needs. */
interface PythonRunner {
  runPython(code: string, options?: { globals?: unknown }): unknown;
  toPy(value: unknown): unknown;
  pyimport(name: string): Record<string, PyCallable>;
}

// Frames of every helper module are named "<wasm-repl>" (tracebacks leave them out).
const INSTALL_MODULE =
  `import sys, types\n_m = types.ModuleType(_name)\n` +
  `exec(compile(_source, "<wasm-repl>", "exec"), _m.__dict__)\n` +
  `if "adopt" in _m.__dict__:\n    _m.adopt(sys.modules.get(_name))\n` +
  `sys.modules[_name] = _m\ndel _m, _source, _name`;

/** Installs every helper module; returns `_wasm_repl`, whose functions the worker calls. */
export function installHelpers(python: PythonRunner, sources: readonly string[]): Record<string, PyCallable> {
  HELPER_MODULES.forEach(({ name }, index) => python.runPython(INSTALL_MODULE, { globals: python.toPy({ _name: name, _source: sources[index] }) }));
  return installedHelpers(python);
}

/** `_wasm_repl` as the interpreter has it (booted from the base snapshot, which the server's own build made). */
export function installedHelpers(python: PythonRunner): Record<string, PyCallable> {
  return python.pyimport("_wasm_repl");
}
