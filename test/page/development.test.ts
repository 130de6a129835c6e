// The page on a development server (no JWT_SECRET, loopback only), as `npm start` runs it: opened
// in a browser, it signs itself in with the development token, kept in the tab, and runs a cell,
// with nothing pasted; signing out shows the form.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { composeServer } from "../../server/compose.ts";
import { systemClock } from "../../server/clock.ts";
import { loadConfig } from "../../server/config.ts";
import { silentLogger } from "../../server/log.ts";
import { NotebookPage, testBrowser } from "../helpers/browser.ts";

const { app, shutdown } = await composeServer(loadConfig({ POOL_SIZE: "1", PORT: "0", HOST: "127.0.0.1", CACHE_DIR: process.env.CACHE_DIR }), silentLogger, systemClock);
const { port } = await app.listen();
after(shutdown);
const browser = await testBrowser();

test("opened on this machine, the page signs in with the development token and runs a cell", async () => {
  const tab = await NotebookPage.open(browser, `http://127.0.0.1:${port}/`);
  await tab.state("ready");
  const token = await tab.evaluate<string | null>("sessionStorage.getItem('wasm-repl.token')");
  assert.match(token ?? "", /^eyJ/, "the development token, kept in the tab");
  assert.ok(!tab.page.url().includes("eyJ"));
  await tab.shows((await tab.ran(0, "6 * 7")).locator(".outputs"), "42");
  await tab.page.locator("#sign-out").click();
  await tab.state("signed-out");
  await tab.shows(tab.page.locator("#status"), "Signed out.");
  assert.equal(await tab.evaluate("sessionStorage.getItem('wasm-repl.token')"), null);
  assert.deepEqual(tab.errors, [], "no policy violation, no error");
  await tab.close();
});
