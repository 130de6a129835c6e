// Limits as the page shows them, in a real browser against a server with small ones: the time
// limit, output dropped past MAX_OUTPUT_BYTES, the memory cap, and a cell that ignores its
// interrupt and is killed, whose session goes on without its variables (state_preserved: false).
import { test } from "node:test";
import { NotebookPage, testBrowser } from "../helpers/browser.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer({ EXECUTION_TIMEOUT: "2", KILL_GRACE_MS: "500", MAX_OUTPUT_BYTES: "2000" });
const browser = await testBrowser();

test("each limit a cell hits is said on it in plain words", async () => {
  const tab = await NotebookPage.open(browser, `${server.url}/`);
  await tab.signIn(await server.token());
  await tab.state("ready");
  await tab.ran(0, "kept = 1");
  await tab.shows((await tab.ran(1, "while True:\n    pass", "failed")).locator(".note"), "Stopped at the time limit (2 s).");
  await tab.shows((await tab.ran(2, "print('x' * 5000)")).locator(".note"), /Output limit reached \(2\.0 KiB\): \d+(\.\d)? (B|KiB) of output dropped\./);
  await tab.shows((await tab.ran(3, "block = bytearray(800 * 2**20)", "failed")).locator(".note"), "Memory limit reached (512 MiB).");
  await tab.shows((await tab.ran(4, "kept")).locator(".outputs"), "1");
  const stubborn = await tab.ran(5, "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass", "failed");
  await tab.shows(stubborn.locator(".note.warning"), "state_preserved: false — the interpreter was restarted, and every variable of earlier cells is gone.");
  await tab.shows((await tab.ran(6, "kept", "failed")).locator(".outputs .error"), "NameError");
  await tab.close();
});
