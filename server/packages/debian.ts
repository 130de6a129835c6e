// Pure-Python Debian packages installed on this machine (`apt-get install python3-...`), read back
// as the contents of a wheel: their files under dist-packages, their metadata (egg-info or
// dist-info), the import names and the Debian packages they depend on. Compiled files are left out
// (a Linux .so cannot run in WebAssembly): a package whose code needs them fails the test the
// builder's caller runs, and is not shipped.
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { basename, relative } from "node:path";
import type { ZipEntry } from "./zip.ts";

const DIST_PACKAGES = "/usr/lib/python3/dist-packages/";

export interface DebianPackage {
  /** The Debian package, e.g. python3-tabulate. */
  debian: string;
  /** The Python project, as its metadata names it. */
  name: string;
  version: string;
  metadata: string;
  files: ZipEntry[];
  topLevel: string[];
  /** Debian packages of Python code this one depends on (python3-...). */
  depends: string[];
  /** Compiled files left out (relative to dist-packages). */
  droppedCompiled: string[];
}

function dpkg(args: string[]): string {
  return execFileSync("dpkg-query", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Reads an installed Debian package; throws when it is not installed or holds no Python module. */
export function readDebianPackage(debian: string): DebianPackage {
  let listing: string;
  try {
    listing = dpkg(["-L", debian]);
  } catch {
    throw new Error(`${debian} is not installed (apt-get install -y --no-install-recommends ${debian})`);
  }
  const paths = listing.split("\n").filter((path) => path.startsWith(DIST_PACKAGES) && statSync(path, { throwIfNoEntry: false })?.isFile());
  const metadataPath = paths.find((path) => /\.(egg|dist)-info(\/(PKG-INFO|METADATA))?$/.test(path) && !path.endsWith("-info/top_level.txt"));
  if (!metadataPath) throw new Error(`${debian} has no Python metadata under ${DIST_PACKAGES}`);
  const metadata = readFileSync(metadataPath, "utf8");
  const header = (field: string) => new RegExp(`^${field}:\\s*(.+)$`, "m").exec(metadata)?.[1]?.trim();
  const name = header("Name");
  // Some Debian builds record no version (0.0.0, setuptools' default): the Debian package's upstream one is it.
  const recorded = header("Version");
  const version = recorded === "0.0.0" ? upstreamVersion(debian) : recorded;
  if (!name || !version) throw new Error(`${metadataPath} names no Name or Version`);
  const infoDir = /^(.*\.(egg|dist)-info)/.exec(metadataPath)![1]!;
  const files: ZipEntry[] = [];
  const droppedCompiled: string[] = [];
  for (const path of paths) {
    const inside = relative(DIST_PACKAGES, path);
    if (path.startsWith(infoDir) || inside.includes("__pycache__/") || inside.endsWith(".pyc")) continue;
    if (/\.so(\.\d+)*$/.test(inside)) {
      droppedCompiled.push(inside);
      continue;
    }
    files.push({ path: inside, data: readFileSync(path) });
  }
  if (files.length === 0) throw new Error(`${debian} installs no Python files under ${DIST_PACKAGES}`);
  // The import names: the public modules and packages at the top of what it installs (a private
  // one, such as PyYAML's _yaml, is its own business, and may need the compiled code left out).
  const topLevel = [...new Set(files.map(({ path }) => path.split("/")[0]!).filter((first) => first.endsWith(".py") || !first.includes(".")).map((first) => basename(first, ".py")))]
    .filter((name) => !name.startsWith("_"))
    .sort();
  return { debian, name, version, metadata: withFinalNewline(metadata.replace(/^Version:.*$/m, `Version: ${version}`)), files, topLevel, depends: debianDepends(debian), droppedCompiled };
}

/** The python3-... packages a Debian package depends on (alternatives: the first). */
function debianDepends(debian: string): string[] {
  const field = dpkg(["-W", "-f=${Depends}", debian]);
  return field
    .split(",")
    .map((clause) => clause.split("|")[0]!.trim().split(/[\s(:]/)[0]!)
    .filter((name) => name.startsWith("python3-"));
}

/** 1:1.2.1+dfsg-2 -> 1.2.1: the epoch, Debian's repacking suffix and revision dropped. */
function upstreamVersion(debian: string): string {
  return dpkg(["-W", "-f=${Version}", debian]).replace(/^\d+:/, "").replace(/-[^-]*$/, "").replace(/[+~](dfsg|ds|repack).*$/, "");
}

/** Core metadata as a wheel carries it (egg-info's PKG-INFO is the same format). */
function withFinalNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}
