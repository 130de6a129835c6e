// A host process of its own for attacks that may crash the host: it boots two sandboxes, runs
// one cell (argument: JSON {code, timeoutMs, killGraceMs}) in the first, then `1 + 1` in the second (a
// bystander that must keep answering), closes everything and prints one JSON line
// {"survived": true, result, exit, bystander}. If the attack crashes this process, that line
// never appears; if the cell never settles, it prints {"hung": true} and exits with 3.
// Not a test file: protocol.test.ts runs it with `node --import tsx`.
import { loadConfig } from "../../server/config.ts";
import { silentLogger } from "../../server/log.ts";
import { startSandboxRuntime } from "../../server/sandbox/runtime.ts";

/** For the boots; the cell itself settles within its timeout and kill grace. */
const HANG_LIMIT_MS = 15_000;

const { code, timeoutMs, killGraceMs } = JSON.parse(process.argv[2] ?? "{}") as { code: string; timeoutMs: number; killGraceMs: number };
const hang = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ hung: true })}\n`);
  process.exit(3);
}, HANG_LIMIT_MS + timeoutMs + killGraceMs);

const config = loadConfig({ CACHE_DIR: process.env.CACHE_DIR });
const runtime = await startSandboxRuntime({
  cacheDir: config.cacheDir,
  poolSize: 0,
  limits: { ...config.sandbox, killGraceMs },
  log: silentLogger,
});
const [sandbox, bystander] = await Promise.all([runtime.start(), runtime.start()]);
const result = await sandbox.execute({ code, timeoutMs, locals: "none" });
// Null when the attack left the sandbox running.
const exit = sandbox.alive ? null : await sandbox.exited;
const answer = await bystander.execute({ code: "1 + 1", timeoutMs: 5000, locals: "none" });
await Promise.all([sandbox.close(), bystander.close()]);
await runtime.close();
clearTimeout(hang);
process.stdout.write(`${JSON.stringify({ survived: true, result, exit, bystander: answer.value })}\n`);
