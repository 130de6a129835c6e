// The entries of a Pyodide lock file (pyodide-lock.json), as the guest and the host both read them.

export interface LockPackage {
  name: string;
  version: string;
  file_name: string;
  install_dir: string;
  sha256: string;
  package_type: string;
  imports: string[];
  depends: string[];
  unvendored_tests?: boolean;
  shared_library?: boolean;
}

export interface LockFile {
  info: { abi_version: string; arch: string; platform: string; python: string };
  packages: Record<string, LockPackage>;
}

/** Whether a package carries compiled code (a wasm32 wheel, or a shared library). */
export function isCompiled(entry: LockPackage): boolean {
  return entry.shared_library === true || entry.package_type === "shared_library" || !entry.file_name.endsWith("-none-any.whl");
}
