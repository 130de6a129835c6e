#!/usr/bin/env node
// The `wasm-repl` executable. In a checkout it runs the CLI from its TypeScript sources, which tsx
// compiles on import, so nothing needs building first. An installed package holds no sources, only
// the JavaScript that `npm pack` compiled into dist/ (see tsconfig.build.json), which plain Node runs.
// Dynamic imports: a static one would load before register().
import { existsSync } from "node:fs";

const source = new URL("./cli.ts", import.meta.url);
let cli;
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import(source.href);
} else {
  cli = await import("../dist/client/cli.js");
}
process.exitCode = await cli.main(process.argv.slice(2));
