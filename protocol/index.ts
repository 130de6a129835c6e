export * from "./frames.ts";
export * from "./validate.ts";
