export { ReplSession, type AttachOptions, type ConnectOptions, type ExecuteOptions, type SessionEvents } from "./session.ts";
export { WasmReplError } from "./errors.ts";
export type * from "../protocol/frames.ts";
