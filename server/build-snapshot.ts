// `npm run build`: builds the base snapshot ahead of time (an image build, a CI cache warm-up).
import { loadConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import { locateRuntimeFiles } from "./sandbox/launch.ts";
import { ensureBaseSnapshot } from "./sandbox/snapshot.ts";

const config = loadConfig();
const path = await ensureBaseSnapshot(locateRuntimeFiles(config.packages.dir), config.packages, config.cacheDir, createLogger(config.logLevel));
process.stdout.write(`${path}\n`);
