// What the kernel says it is: its kernelspec (GET /api/kernelspecs) and its kernel_info_reply.
// There is one kind of kernel, Python in a wasm-repl session; the interpreter's version is the
// one the sandbox's Pyodide is built from.
import { createRequire } from "node:module";

export const KERNEL_NAME = "python3";
/** The version of Jupyter's messaging protocol the door speaks. */
export const PROTOCOL_VERSION = "5.3";
export const IMPLEMENTATION = "wasm-repl";
const IMPLEMENTATION_VERSION = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

export interface KernelSpecModel {
  name: string;
  spec: {
    /** No process is launched for a kernel here: a session's interpreter runs in a sandbox. */
    argv: string[];
    display_name: string;
    language: "python";
    metadata: Record<string, unknown>;
    /** Interrupts are interrupt_request messages (or the REST call), never signals. */
    interrupt_mode: "message";
    env: Record<string, string>;
  };
  resources: Record<string, string>;
}

export function kernelSpec(pythonVersion: string): KernelSpecModel {
  return {
    name: KERNEL_NAME,
    spec: { argv: [], display_name: `Python ${minor(pythonVersion)} (wasm-repl)`, language: "python", metadata: {}, interrupt_mode: "message", env: {} },
    resources: {},
  };
}

export function kernelSpecs(pythonVersion: string): { default: string; kernelspecs: Record<string, KernelSpecModel> } {
  return { default: KERNEL_NAME, kernelspecs: { [KERNEL_NAME]: kernelSpec(pythonVersion) } };
}

/** The content of a kernel_info_reply. */
export function kernelInfo(pythonVersion: string): Record<string, unknown> {
  return {
    status: "ok",
    protocol_version: PROTOCOL_VERSION,
    implementation: IMPLEMENTATION,
    implementation_version: IMPLEMENTATION_VERSION,
    language_info: {
      name: "python",
      version: pythonVersion,
      mimetype: "text/x-python",
      file_extension: ".py",
      pygments_lexer: "ipython3",
      codemirror_mode: { name: "ipython", version: 3 },
      nbconvert_exporter: "python",
    },
    banner: `Python ${pythonVersion} (Pyodide) in a wasm-repl session: variables persist, the session hibernates when idle\n`,
    help_links: [{ text: "Python Reference", url: `https://docs.python.org/${minor(pythonVersion)}/` }],
    debugger: false,
  };
}

/** The version of the REST API (GET /api). */
export function apiVersion(): { version: string } {
  return { version: IMPLEMENTATION_VERSION };
}

/** "3.14" of "3.14.2". */
function minor(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}
