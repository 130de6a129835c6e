// The package repository as the sandboxes use it (read and checked by config.ts).

export interface PackageSettings {
  /** PYODIDE_PACKAGES_DIR, absolute; null: no repository, and sessions have the standard library only. */
  dir: string | null;
  /** PRELOAD_PACKAGES, as the lock file keys them: loaded into the base snapshot. */
  preload: string[];
  /** A digest of the repository's lock file: part of the base snapshot's key. */
  digest: string;
}

export const NO_PACKAGES: PackageSettings = { dir: null, preload: [], digest: "" };
