// The page's sessions in a real browser: a session opened from another tab's list gets the output
// it still holds by replay and runs on with its variables; hibernated sessions say so and wake
// for a cell; an ended session says so, on the page that was attached and on one that comes back
// to it, and the next cell opens a new session.
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { test } from "node:test";
import { NotebookPage, testBrowser } from "../helpers/browser.ts";
import { startTestServer } from "../helpers/server.ts";

// Sessions hibernate after a second of quiet, so a test can see one that has.
const server = await startTestServer({ HIBERNATE_AFTER: "1" });
const browser = await testBrowser();
const token = await server.token();
const page = `${server.url}/`;

async function signedIn(tab: NotebookPage): Promise<NotebookPage> {
  await tab.signIn(token);
  await tab.state("ready");
  return tab;
}

/** Waits (up to a deadline) for the store to say the session is hibernated. */
async function hibernated(id: string): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await delay(100)) {
    if ((await server.stores.sessions.get(id))?.state === "hibernated") return;
  }
  assert.fail(`session ${id} did not hibernate`);
}

test("another tab opens a session from the list: hibernated, it says so; its output is replayed, and it wakes with its variables", async () => {
  const first = await signedIn(await NotebookPage.open(browser, page));
  await first.ran(0, "x = 5\nprint('from the first tab')");
  const id = (await first.evaluate<string>("sessionStorage.getItem('wasm-repl.session')"))!;
  await hibernated(id);
  const second = await signedIn(await first.sibling(page));
  await second.page.locator("#refresh-sessions").click();
  const listed = second.page.locator(`#sessions li[data-session="${id}"]`);
  await second.shows(listed, "hibernated");
  await listed.getByRole("button", { name: `Open session ${id} in this tab` }).click();
  // The second tab has no notebook for it: the run comes back from the session's history, without its code.
  await second.shows(second.cell(0).locator(".outputs"), "from the first tab");
  await second.shows(second.cell(0).locator(".note"), "Run by another client of this session");
  await second.shows((await second.ran(1, "x * 2")).locator(".outputs"), "10");
  // The first tab, still attached, sees the second tab's run arrive.
  await first.shows(first.page.locator("#cells"), "10");
  await first.close();
});

test("an ended session says so, on the attached page and on a page that comes back to it; the next cell opens a new session", async () => {
  const tab = await signedIn(await NotebookPage.open(browser, page));
  await tab.ran(0, "1 + 1");
  const id = (await tab.evaluate<string>("sessionStorage.getItem('wasm-repl.session')"))!;
  await (await fetch(`${server.url}/v1/sessions/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } })).arrayBuffer();
  await tab.shows(tab.page.locator("#notebook-notes"), `Gone: session ${id} was ended (closed).`);
  await tab.shows((await tab.ran(1, "2 + 2")).locator(".outputs"), "4");
  const next = (await tab.evaluate<string>("sessionStorage.getItem('wasm-repl.session')"))!;
  assert.notEqual(next, id);
  // Away while its session ends: coming back, the page is told why it cannot attach.
  await tab.page.goto("about:blank");
  await (await fetch(`${server.url}/v1/sessions/${next}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } })).arrayBuffer();
  await tab.page.goto(page);
  await tab.state("ready");
  await tab.shows(tab.page.locator("#notebook-notes"), `session ${next} ended (closed)`);
  await tab.shows(tab.cell(1).locator(".outputs"), "4");
  await tab.shows((await tab.ran(2, "'fresh'")).locator(".outputs"), "'fresh'");
  await tab.close();
});
