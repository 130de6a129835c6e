export * from "./frames.ts";
export * from "./validate.ts";
export * from "./json.ts";
