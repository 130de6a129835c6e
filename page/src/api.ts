// The server's REST routes the page uses, with the token in the Authorization header (never in a
// URL): sessions (list, open, end) and a session's files. A refusal is thrown as an ApiError
// carrying the server's code and message, which say what went wrong.
import type { ErrorBody, SessionSummary } from "../../protocol/frames.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface FileEntry {
  path: string;
  size: number;
}

export class Api {
  constructor(private readonly token: string) {}

  async sessions(): Promise<SessionSummary[]> {
    return ((await this.json("GET", "/v1/sessions")) as { sessions: SessionSummary[] }).sessions;
  }

  async openSession(): Promise<SessionSummary> {
    return (await this.json("POST", "/v1/sessions")) as SessionSummary;
  }

  async endSession(id: string): Promise<void> {
    await this.request("DELETE", `/v1/sessions/${id}`);
  }

  async files(session: string): Promise<{ files: FileEntry[]; truncated: boolean }> {
    return (await this.json("GET", `/v1/sessions/${session}/files`)) as { files: FileEntry[]; truncated: boolean };
  }

  async upload(session: string, path: string, body: Blob): Promise<void> {
    await this.request("PUT", filePath(session, path), body);
  }

  async download(session: string, path: string): Promise<Blob> {
    return (await this.request("GET", filePath(session, path))).blob();
  }

  private async json(method: string, path: string): Promise<unknown> {
    return (await this.request(method, path)).json();
  }

  private async request(method: string, path: string, body?: Blob): Promise<Response> {
    const response = await fetch(path, { method, body: body ?? null, headers: { authorization: `Bearer ${this.token}` }, cache: "no-store" });
    if (response.ok) return response;
    const error = (await response.json().catch(() => null)) as ErrorBody | null;
    throw new ApiError(response.status, error?.code ?? "internal", error?.message ?? `the server answered ${response.status}`);
  }
}

function filePath(session: string, path: string): string {
  return `/v1/sessions/${session}/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}
