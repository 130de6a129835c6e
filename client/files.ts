// A session's files over its REST routes (/v1/sessions/{id}/files): what ReplSession's file
// methods and the CLI's `files` command use. Paths are relative to the session's working
// directory, /home/pyodide, where Python finds them with open().
import { WasmReplError } from "./errors.ts";
import { httpBase, httpRequest } from "./http.ts";

export interface FileInfo {
  path: string;
  size: number;
}

export interface FileListing {
  files: FileInfo[];
  /** Some files were left out (more than the server lists at once). */
  truncated: boolean;
}

export class SessionFiles {
  private readonly base: string;

  constructor(
    url: string,
    readonly sessionId: string,
    /** The token of each request: the session's current one, refreshed or not. */
    private readonly token: () => string,
  ) {
    this.base = `${httpBase(url)}/v1/sessions/${encodeURIComponent(sessionId)}/files`;
  }

  /** Writes a file (text as UTF-8), making its directories; replaces one that is there. */
  async upload(path: string, content: Uint8Array | string): Promise<void> {
    await httpRequest(this.url(path), { method: "PUT", token: this.token(), body: content, contentType: "application/octet-stream" });
  }

  async download(path: string): Promise<Uint8Array> {
    const response = await httpRequest(this.url(path), { method: "GET", token: this.token() });
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Every regular file of the working directory, at any depth, with its size in bytes. */
  async list(): Promise<FileListing> {
    const response = await httpRequest(this.base, { method: "GET", token: this.token() });
    return (await response.json()) as FileListing;
  }

  async delete(path: string): Promise<void> {
    await httpRequest(this.url(path), { method: "DELETE", token: this.token() });
  }

  /**
   * The route of one file: the whole path is one escaped segment. "", "." and ".." cannot be one:
   * a URL resolves them away (`files/..` is the session's own route), so they are refused here.
   */
  private url(path: string): string {
    if (path === "" || path === "." || path === "..") throw new WasmReplError("bad_request", `${JSON.stringify(path)} names no file; give a path such as data/input.csv`);
    return `${this.base}/${encodeURIComponent(path)}`;
  }
}
