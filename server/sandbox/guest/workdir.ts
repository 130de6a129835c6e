// A session's files: the interpreter's working directory, in Pyodide's in-memory file system
// (MEMFS). Its files live in this worker's JavaScript memory, not in the WebAssembly heap that a
// snapshot copies, so a snapshot packs them beside the heap (pack) and a restore puts them back
// (unpack). The host reads, writes, deletes and lists them here; it checks the paths first (no
// `.` or `..`), and nothing here follows a link. Together with the heap they stay within the
// interpreter's memory cap: what the host writes and what a snapshot carries.
import { FILE_CAPS, WORKING_DIRECTORY, type FileEntry, type FileFailure, type FileReply, type FileRequest } from "../ipc.ts";

interface Stat {
  mode: number;
  size: number;
}

/** The part of Emscripten's FS this module uses. */
export interface FileSystem {
  lstat(path: string): Stat;
  readdir(path: string): string[];
  readFile(path: string): Uint8Array;
  writeFile(path: string, data: Uint8Array, options?: { canOwn?: boolean }): void;
  mkdir(path: string): void;
  unlink(path: string): void;
  isDir(mode: number): boolean;
  isFile(mode: number): boolean;
}

/** A reply, and the bytes that travel beside it (a read's). */
export interface Answer {
  reply: FileReply;
  body?: Uint8Array<ArrayBuffer>;
}

class Failed extends Error {
  constructor(
    readonly failure: FileFailure,
    message: string,
  ) {
    super(message);
  }
}

const MIB = 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class WorkingDirectory {
  constructor(
    private readonly fs: FileSystem,
    /** The interpreter's memory cap, which its heap and these files share. */
    private readonly capBytes: number,
    /** The heap's size now (it never shrinks). */
    private readonly heapBytes: () => number,
  ) {}

  /** Carries out a host's request; every failure is an answer, never a throw. */
  handle(request: FileRequest, body: Uint8Array<ArrayBuffer> | null): Answer {
    try {
      switch (request.kind) {
        case "write":
          this.write(request.path, body ?? new Uint8Array());
          return { reply: { kind: "done" } };
        case "read": {
          const bytes = this.read(request.path, request.max_bytes);
          return { reply: { kind: "content", bytes: bytes.byteLength }, body: bytes };
        }
        case "delete":
          this.remove(request.path);
          return { reply: { kind: "done" } };
        case "mkdir":
          this.directory(request.path, true);
          return { reply: { kind: "done" } };
        case "list":
          return { reply: this.list(request.path) };
      }
    } catch (error) {
      if (error instanceof Failed) return { reply: { kind: "failed", failure: error.failure, message: error.message.slice(0, FILE_CAPS.messageChars) } };
      throw error;
    }
  }

  /**
   * The files and directories as one archive: u32 length of a JSON index ({dirs, files: [[path,
   * size]]}), the index, then each file's bytes in the index's order. Throws when the heap and the
   * files would outgrow the memory cap together (the snapshot is then not taken).
   */
  pack(): Uint8Array<ArrayBuffer> {
    const dirs: string[] = [];
    const files: FileEntry[] = [];
    // Links are left out: what one names is the session's to make again.
    this.walk("", (path, stat) => {
      if (this.fs.isDir(stat.mode)) dirs.push(path);
      else if (this.fs.isFile(stat.mode)) files.push({ path, size: stat.size });
    }, true);
    const index = encoder.encode(JSON.stringify({ dirs, files: files.map(({ path, size }) => [path, size]) }));
    const total = files.reduce((sum, file) => sum + file.size, 4 + index.byteLength);
    const heap = this.heapBytes();
    if (heap + total > this.capBytes) {
      throw new Error(`the working directory's files (${mib(total)} MiB) and the heap (${mib(heap)} MiB) take more than the interpreter's ${mib(this.capBytes)} MiB`);
    }
    const archive = new Uint8Array(total);
    new DataView(archive.buffer).setUint32(0, index.byteLength, true);
    archive.set(index, 4);
    let offset = 4 + index.byteLength;
    for (const { path } of files) {
      const bytes = this.fs.readFile(absolute(path));
      archive.set(bytes, offset);
      offset += bytes.byteLength;
    }
    return archive;
  }

  /** Puts back the files and directories of an archive pack() made. */
  unpack(archive: Uint8Array): void {
    const view = new DataView(archive.buffer, archive.byteOffset, archive.byteLength);
    const indexBytes = view.getUint32(0, true);
    const index = JSON.parse(decoder.decode(archive.subarray(4, 4 + indexBytes))) as { dirs: string[]; files: [string, number][] };
    for (const path of index.dirs) this.directory(path, true);
    let offset = 4 + indexBytes;
    for (const [path, size] of index.files) {
      // A copy: a view would keep the whole snapshot it arrived in alive.
      this.fs.writeFile(absolute(path), archive.slice(offset, offset + size), { canOwn: true });
      offset += size;
    }
  }

  private write(path: string, bytes: Uint8Array<ArrayBuffer>): void {
    const existing = this.entry(path);
    if (existing && !this.fs.isFile(existing.mode)) throw new Failed("not_a_file", `${path} is not a regular file`);
    const used = this.used() - (existing?.size ?? 0) + bytes.byteLength;
    const heap = this.heapBytes();
    if (heap + used > this.capBytes) {
      throw new Failed("full", `with it the session's files would take ${mib(used)} MiB and its heap takes ${mib(heap)} MiB, more than its ${mib(this.capBytes)} MiB`);
    }
    this.directory(parent(path), true);
    // The bytes were handed over to this worker: the file system may keep them as they are.
    this.fs.writeFile(absolute(path), bytes, { canOwn: true });
  }

  private read(path: string, maxBytes: number): Uint8Array<ArrayBuffer> {
    const stat = this.file(path);
    if (stat.size > maxBytes) throw new Failed("too_large", `${path} is ${stat.size} bytes, more than the ${maxBytes} a read may take`);
    return this.fs.readFile(absolute(path)) as Uint8Array<ArrayBuffer>;
  }

  private remove(path: string): void {
    this.file(path);
    this.fs.unlink(absolute(path));
  }

  private list(path: string): FileReply {
    this.directory(path, false);
    const files: FileEntry[] = [];
    let chars = 0;
    let truncated = false;
    this.walk(path, (entry, stat) => {
      if (!this.fs.isFile(stat.mode)) return;
      const file = { path: entry, size: stat.size };
      const json = JSON.stringify(file).length + 1;
      // A path too long for a request to name is left out too.
      if (files.length >= FILE_CAPS.listEntries || chars + json > FILE_CAPS.listChars || entry.length > FILE_CAPS.pathChars) {
        truncated = true;
        return;
      }
      chars += json;
      files.push(file);
    });
    return { kind: "listing", files, truncated };
  }

  /** The regular file at `path`, or why there is none. */
  private file(path: string): Stat {
    const stat = this.entry(path);
    if (!stat) throw new Failed("missing", `there is no file ${path}`);
    if (!this.fs.isFile(stat.mode)) throw new Failed("not_a_file", `${path} is not a regular file`);
    return stat;
  }

  /** What is at `path`, without following a link there or on the way; null when nothing is. */
  private entry(path: string): Stat | null {
    const segments = path === "" ? [] : path.split("/");
    let at = WORKING_DIRECTORY;
    for (const [index, segment] of [null, ...segments].entries()) {
      if (segment !== null) at = `${at}/${segment}`;
      const stat = lstat(this.fs, at);
      if (!stat || index === segments.length) return stat;
      if (!this.fs.isDir(stat.mode)) throw new Failed("not_a_file", `${relative(at) || "the working directory"} is not a directory`);
    }
    return null;
  }

  /** Checks that `path` is a directory, or makes it (with its parents) when `make`. */
  private directory(path: string, make: boolean): void {
    const segments = path === "" ? [] : path.split("/");
    let at = WORKING_DIRECTORY;
    for (const segment of [null, ...segments]) {
      if (segment !== null) at = `${at}/${segment}`;
      const stat = lstat(this.fs, at);
      if (!stat && make) this.fs.mkdir(at);
      else if (!stat) throw new Failed("missing", `there is no directory ${path}`);
      else if (!this.fs.isDir(stat.mode)) throw new Failed("not_a_file", `${relative(at) || "the working directory"} is not a directory`);
    }
  }

  /** The bytes the working directory's regular files hold. */
  private used(): number {
    let bytes = 0;
    this.walk("", (_path, stat) => {
      if (this.fs.isFile(stat.mode)) bytes += stat.size;
    });
    return bytes;
  }

  /** Every entry under the directory `path` (relative paths, depth first, by name; links are not followed), directories too when `dirs`. */
  private walk(path: string, visit: (path: string, stat: Stat) => void, dirs = false): void {
    const at = absolute(path);
    const root = lstat(this.fs, at);
    if (!root || !this.fs.isDir(root.mode)) return;
    // In name order: a listing (and where it is cut) is the same every time.
    for (const name of this.fs.readdir(at).sort()) {
      if (name === "." || name === "..") continue;
      const child = path === "" ? name : `${path}/${name}`;
      const stat = lstat(this.fs, absolute(child));
      if (!stat) continue;
      if (this.fs.isDir(stat.mode)) {
        if (dirs) visit(child, stat);
        this.walk(child, visit, dirs);
      } else visit(child, stat);
    }
  }
}

function lstat(fs: FileSystem, path: string): Stat | null {
  try {
    return fs.lstat(path);
  } catch {
    return null; // Emscripten throws ErrnoError for a path with nothing at it
  }
}

function absolute(path: string): string {
  return path === "" ? WORKING_DIRECTORY : `${WORKING_DIRECTORY}/${path}`;
}

function relative(path: string): string {
  return path.slice(WORKING_DIRECTORY.length + 1);
}

function parent(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "" : path.slice(0, slash);
}

function mib(bytes: number): string {
  return (bytes / MIB).toFixed(1);
}
