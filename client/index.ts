export { ReplSession, type AttachOptions, type ConnectOptions, type ExecuteOptions, type OpenOptions, type SessionEvents } from "./session.ts";
export { SessionFiles, type FileInfo, type FileListing } from "./files.ts";
export { WasmReplError } from "./errors.ts";
export type * from "../protocol/frames.ts";
