// Pure-Python wheels (`py3-none-any`): the archive, its dist-info (METADATA, WHEEL, RECORD) and
// its file name, as pip and Pyodide's loader expect them (PEP 427, PEP 376).
import { createHash } from "node:crypto";
import { writeZip, type ZipEntry } from "./zip.ts";

export interface WheelSource {
  /** The project's name as its metadata spells it. */
  name: string;
  version: string;
  /** The installed files, relative to site-packages. */
  files: ZipEntry[];
  /** Core metadata (the METADATA file); a minimal one when absent. */
  metadata?: string;
  /** Top-level import names, written as top_level.txt. */
  topLevel?: string[];
}

export interface Wheel {
  fileName: string;
  bytes: Buffer;
  sha256: string;
}

export const PURE_TAG = "py3-none-any";

/** A name as it appears in a wheel's file name and dist-info directory. */
function escapedName(name: string): string {
  return name.replace(/[-_.]+/g, "_");
}

/** A version likewise: a hyphen would split the file name's fields. */
function escapedVersion(version: string): string {
  return version.replace(/-/g, "_");
}

/** The name a lock file keys a package by (PEP 503). */
export function normalizedName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

export function wheelFileName(name: string, version: string): string {
  return `${escapedName(name)}-${escapedVersion(version)}-${PURE_TAG}.whl`;
}

function recordHash(data: Uint8Array): string {
  return `sha256=${createHash("sha256").update(data).digest("base64url")}`;
}

export function buildWheel(source: WheelSource): Wheel {
  const distInfo = `${escapedName(source.name)}-${escapedVersion(source.version)}.dist-info`;
  const text = (value: string) => Buffer.from(value, "utf8");
  const metadata = source.metadata ?? `Metadata-Version: 2.1\nName: ${source.name}\nVersion: ${source.version}\n`;
  const entries: ZipEntry[] = [
    ...source.files,
    { path: `${distInfo}/METADATA`, data: text(metadata) },
    { path: `${distInfo}/WHEEL`, data: text(`Wheel-Version: 1.0\nGenerator: wasm-repl\nRoot-Is-Purelib: true\nTag: ${PURE_TAG}\n`) },
    ...(source.topLevel ? [{ path: `${distInfo}/top_level.txt`, data: text(source.topLevel.map((name) => `${name}\n`).join("")) }] : []),
  ];
  const recordPath = `${distInfo}/RECORD`;
  const record = [...entries.map(({ path, data }) => `${csvField(path)},${recordHash(data)},${data.byteLength}`), `${recordPath},,`].join("\n") + "\n";
  const bytes = writeZip([...entries, { path: recordPath, data: text(record) }]);
  return { fileName: wheelFileName(source.name, source.version), bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
