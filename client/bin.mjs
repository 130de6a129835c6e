#!/usr/bin/env node
// The `wasm-repl` executable. The CLI is TypeScript: tsx compiles it on import, so it runs from a
// checkout without a build. A dynamic import, because static ones would load before register().
import { register } from "tsx/esm/api";

register();
const { main } = await import("./cli.ts");
process.exitCode = await main(process.argv.slice(2));
