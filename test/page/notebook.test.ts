// The notebook page in a real browser (Debian's chromium through playwright-core) against a real
// server with a configured secret: signing in with a token, cells that keep their variables,
// live streams, input(), interrupt and restart, rich output, hostile HTML that must not reach the
// token, a reload that finds the session and the output made while the page was away, files both
// ways, .ipynb both ways, a narrow window in the dark theme.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import type { InputRequestFrame } from "../../protocol/frames.ts";
import { NotebookPage, testBrowser } from "../helpers/browser.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer();
const browser = await testBrowser();
const token = await server.token();
const page = `${server.url}/`;

/** A tab signed in through the form. */
async function signedIn(options: Parameters<typeof NotebookPage.open>[2] = {}): Promise<NotebookPage> {
  const tab = await NotebookPage.open(browser, page, options);
  await tab.signIn(token);
  await tab.state("ready");
  return tab;
}

/** `steps` in a tab signed in through the form, closed after them whatever happened. */
async function inTab(steps: (tab: NotebookPage) => Promise<void>, options: Parameters<typeof NotebookPage.open>[2] = {}): Promise<void> {
  const tab = await signedIn(options);
  try {
    await steps(tab);
  } finally {
    await tab.close();
  }
}

const SESSION_STORAGE = (key: string) => `sessionStorage.getItem(${JSON.stringify(key)})`;

test("a refused token is told why; a good one, typed and entered from the keyboard, opens the notebook and stays in the tab, never in a URL", async () => {
  const tab = await NotebookPage.open(browser, page);
  await tab.signIn("not-a-token");
  await tab.shows(tab.page.locator("#sign-in-problem"), /That token does not work here: .*malformed/i);
  await tab.page.locator("#token").fill("");
  await tab.signIn(token);
  await tab.state("ready");
  assert.equal(await tab.evaluate(SESSION_STORAGE("wasm-repl.token")), token);
  assert.equal(await tab.evaluate("localStorage.getItem('wasm-repl.token')"), null, "not kept beyond the tab");
  assert.ok(!tab.page.url().includes(token.slice(0, 20)), tab.page.url());
  // The notebook opens with its first cell's editor focused: typing runs code without a mouse.
  await tab.page.keyboard.type("6 * 7");
  await tab.page.keyboard.press("Shift+Enter");
  await tab.shows((await tab.finished(0)).locator(".outputs"), "42");
  assert.equal(await tab.cell(0).locator(".count").textContent(), "[1]");
  await tab.shows(tab.cell(0).locator(".time"), /^\d+ ms$|^\d+\.\d\d s$/);
  assert.equal(await tab.evaluate("document.activeElement.closest('.cell') === document.querySelectorAll('#cells > .cell')[1]"), true, "Shift+Enter moved on to a new cell");
  // Tab leaves the editor (it is no keyboard trap) for the cell's buttons and the page's.
  await tab.page.keyboard.press("Tab");
  assert.equal(await tab.evaluate("document.activeElement.tagName === 'BUTTON' && !document.activeElement.closest('.cm-content')"), true);
  assert.deepEqual(tab.errors, []);
  await tab.close();
});

test("cells keep their variables; a stream shows while its cell still runs; input() asks on the page", () =>
  inTab(async (tab) => {
    await tab.ran(0, "x = 20");
    const asking = await tab.run(1, 'print(f"started with {x}")\nanswer = input("how many more? ")\nx * 2 + int(answer)');
    // The cell waits in input(): its stream is on the page before it ends.
    await tab.shows(asking.locator(".outputs"), "started with 20");
    assert.equal(await asking.getAttribute("data-status"), "running");
    assert.equal(await asking.locator(".count").textContent(), "[*]");
    await tab.shows(asking.locator(".input-request label"), "how many more?");
    await asking.locator(".input-request input").fill("2");
    await asking.locator(".input-request input").press("Enter");
    await tab.shows((await tab.finished(1)).locator(".outputs"), "42");
    assert.equal(await asking.locator(".count").textContent(), "[2]");
    assert.ok(await asking.locator(".input-request").isHidden());
  }));

test("Interrupt stops a long cell and keeps the variables; Restart drops them and says so", () =>
  inTab(async (tab) => {
    await tab.ran(0, "kept = 'still here'");
    const sleeping = await tab.run(1, "import time\nprint('sleeping', flush=True)\ntime.sleep(600)");
    await tab.shows(sleeping.locator(".outputs"), "sleeping");
    await tab.page.locator("#interrupt").click();
    await tab.finished(1, "failed");
    await tab.shows(sleeping.locator(".outputs .error"), "KeyboardInterrupt");
    await tab.shows(sleeping.locator(".note"), "Interrupted.");
    await tab.shows((await tab.ran(2, "kept")).locator(".outputs"), "'still here'");
    await tab.page.locator("#restart").click();
    await tab.shows(tab.page.locator("#notebook-notes"), "Restarted: a fresh interpreter, every variable dropped (state_preserved: false).");
    await tab.shows((await tab.ran(3, "kept", "failed")).locator(".outputs .error"), "NameError");
  }));

/** A PNG of `width` × `height` made with the standard library (Pyodide has no PIL). */
const PNG_MAKER = `import struct, zlib
def png(width, height):
    rows = b"".join(b"\\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 200)) for y in range(height))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")`;

test("rich output: HTML, SVG and Markdown in sandboxed frames sized to their content, a PNG, JSON; a screenshot of it", () =>
  inTab(async (tab) => {
    await tab.ran(0, "import math\nradii = [1, 2, 3]\nprint('areas:', [round(math.pi * r * r, 2) for r in radii])");
    await tab.run(
      1,
      [
        "from IPython.display import HTML, SVG, Markdown, JSON, Image, display",
        "display(HTML('<table><tr><th>planet</th><th>moons</th></tr><tr><td>Earth</td><td>1</td></tr><tr><td>Mars</td><td>2</td></tr></table>'))",
        "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"60\"><circle cx=\"30\" cy=\"30\" r=\"25\" fill=\"#1f5fbf\"/><rect x=\"65\" y=\"10\" width=\"45\" height=\"40\" fill=\"#d9a400\"/></svg>'))",
        "display(Markdown('## Results\\n\\nThe *mean* is **4.2**.'))",
        "display(JSON({'moons': {'Earth': 1, 'Mars': 2}}))",
        `${PNG_MAKER}\ndisplay(Image(data=png(160, 48)))`,
        "print('done')",
      ].join("\n"),
    );
    const cell = await tab.finished(1);
    const frames = cell.locator("iframe.output-frame");
    await tab.page.waitForFunction("document.querySelectorAll('#cells > .cell')[1].querySelectorAll('iframe.output-frame').length === 3");
    for (const frame of await frames.all()) {
      assert.equal(await frame.getAttribute("sandbox"), "allow-scripts", "scripts run, in an opaque origin of their own");
      await frame.elementHandle().then((handle) => handle!.waitForElementState("visible"));
    }
    // Each frame takes the height its content reported.
    await tab.page.waitForFunction("[...document.querySelectorAll('#cells > .cell')[1].querySelectorAll('iframe.output-frame')].every((frame) => frame.getBoundingClientRect().height > 20)");
    const html = tab.page.frameLocator("#cells > .cell:nth-child(2) iframe.output-frame >> nth=0");
    await tab.shows(html.locator("td"), "Mars");
    await tab.shows(tab.page.frameLocator("#cells > .cell:nth-child(2) iframe.output-frame >> nth=2").locator("h2"), "Results");
    const image = cell.locator("img.output.image");
    assert.match((await image.getAttribute("src")) ?? "", /^data:image\/png;base64,iVBORw0KGgo/);
    await tab.page.waitForFunction("document.querySelector('#cells img.output.image').naturalWidth === 160");
    await tab.shows(cell.locator("pre.json"), '"Mars": 2');
    await tab.shows(cell.locator(".outputs"), "done");
    // The README's picture (docs/notebook.png) is this artifact.
    await tab.screenshot("notebook.png");
    assert.deepEqual(tab.errors, []);
  }));

test("HTML a cell displays cannot reach the page, its token, its origin or the network: its script runs and finds every door shut", () =>
  inTab(async (tab) => {
    // A listener the hostile script tries to send what it found to: it must hear nothing.
    const heard: string[] = [];
    const listener = createServer((request: IncomingMessage, response) => {
      heard.push(request.url ?? "");
      response.end();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    after(() => listener.close());
    const leak = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
    const hostile = `<p id="hostile">hostile output</p><script>
  (async () => {
    const results = {};
    const attempt = async (name, steal) => { try { results[name] = "GOT " + String(await steal()); } catch (error) { results[name] = "blocked: " + error.name; } };
    await attempt("parent.sessionStorage", () => JSON.stringify(parent.sessionStorage));
    await attempt("top.sessionStorage", () => top.sessionStorage.getItem("wasm-repl.token"));
    await attempt("parent.document", () => parent.document.body.innerHTML.length);
    await attempt("parent.localStorage", () => JSON.stringify(parent.localStorage));
    await attempt("own sessionStorage", () => JSON.stringify(sessionStorage));
    await attempt("cookie", () => document.cookie);
    await attempt("fetch /v1/sessions", async () => (await fetch("/v1/sessions")).status);
    await attempt("fetch the listener", async () => (await fetch("${leak}/fetch")).status);
    await attempt("WebSocket", () => new Promise((resolve, reject) => { const socket = new WebSocket("ws://" + location.host + "/v1/sessions"); socket.onopen = () => resolve("open"); socket.onerror = () => reject(new TypeError("refused")); }));
    await attempt("top.location", () => { top.location.href = "${leak}/navigated"; return top.location.href; });
    new Image().src = "${leak}/image";
    try { parent.postMessage({ height: 1e9 }, "*"); } catch {}
    const shown = document.createElement("pre");
    shown.id = "results";
    shown.textContent = JSON.stringify(results);
    document.body.append(shown);
  })();
  </script>`;
    await tab.run(0, `from IPython.display import HTML, display\ndisplay(HTML(${JSON.stringify(hostile)}))`);
    await tab.finished(0);
    const frame = tab.page.frameLocator("#cells > .cell:nth-child(1) iframe.output-frame");
    await tab.shows(frame.locator("#hostile"), "hostile output");
    const text = (await frame.locator("#results").textContent({ timeout: 60_000 }))!;
    const results = JSON.parse(text) as Record<string, string>;
    assert.equal(Object.keys(results).length, 10);
    for (const [attempt, outcome] of Object.entries(results)) assert.match(outcome, /^blocked: /, `${attempt}: ${outcome}`);
    assert.ok(!text.includes(token.slice(-20)), "the token never reached it");
    // The page is as it was: not navigated, its token in place, its DOM untouched, the frame no taller than allowed.
    assert.equal(tab.page.url(), page);
    assert.equal(await tab.evaluate(SESSION_STORAGE("wasm-repl.token")), token);
    assert.equal(await tab.evaluate("document.querySelectorAll('#hostile, #results').length"), 0);
    assert.ok(await tab.evaluate<boolean>("document.querySelector('iframe.output-frame').getBoundingClientRect().height <= 4000"));
    // Anything it sent would have come before it wrote its results (the image is asked at once).
    const probe = await fetch(`${leak}/probe`);
    await probe.arrayBuffer();
    assert.deepEqual(heard, ["/probe"], "the listener heard nothing from the frame");
    // The frame's document is sandboxed by its own policy too: opened on its own, its origin is still opaque.
    const alone = await tab.context.newPage();
    await alone.goto(await tab.evaluate<string>("document.querySelector('iframe.output-frame').src"));
    assert.equal(await alone.evaluate("self.origin"), "null");
  }));

test("a reload finds the session and the notebook, and output made while the page was away arrives by replay", () =>
  inTab(async (tab) => {
    await tab.ran(0, "total = 40");
    const waiting = await tab.run(1, "print('before', flush=True)\nextra = input('extra? ')\nprint('after', extra)\ntotal + int(extra)");
    await tab.shows(waiting.locator(".outputs"), "before");
    const session = (await tab.evaluate<string>(SESSION_STORAGE("wasm-repl.session")))!;
    assert.match(session, /^[A-Za-z0-9_-]+$/);
    await tab.page.goto("about:blank");
    // While no page is there, another client of the session answers the cell's input(): it finishes unseen.
    const other = await RawSocket.connect(server.url, `/v1/sessions/${session}?since=0`, token);
    const asked = (await other.next("input_request", 60_000)) as InputRequestFrame;
    other.send({ type: "input_reply", id: asked.id, value: "2" });
    await other.next((frame) => frame.type === "result" && frame.id === asked.id, 60_000);
    other.socket.close();
    await tab.page.goto(page);
    await tab.state("ready");
    assert.equal(await tab.cell(0).locator(".count").textContent(), "[1]", "the notebook came back from the tab's storage");
    await tab.shows(tab.cell(0).locator(".cm-content"), "total = 40");
    const back = await tab.finished(1);
    await tab.shows(back.locator(".outputs"), "after 2");
    await tab.shows(back.locator(".outputs"), "42");
    assert.equal(await back.locator(".count").textContent(), "[2]");
    assert.equal((await back.locator(".outputs").textContent())!.match(/before/g)?.length, 1, "nothing replayed twice");
    await tab.shows(tab.page.locator(`#sessions li[data-session="${session}"]`), "this notebook");
    // The session goes on where it was.
    await tab.shows((await tab.ran(2, "total")).locator(".outputs"), "40");
  }));

test("files: one uploaded is read by Python, one Python wrote is listed and downloaded", () =>
  inTab(async (tab) => {
    await tab.page.locator("#upload").setInputFiles({ name: "numbers.txt", mimeType: "text/plain", buffer: Buffer.from("3\n4\n5\n") });
    await tab.shows(tab.page.locator('#files li[data-path="numbers.txt"]'), "6 B");
    await tab.shows((await tab.ran(0, "nums = [int(line) for line in open('numbers.txt')]\nwith open('squares.csv', 'w') as out:\n    out.write('\\n'.join(f'{n},{n * n}' for n in nums))\nsum(nums)")).locator(".outputs"), "12");
    const written = tab.page.locator('#files li[data-path="squares.csv"]');
    await written.waitFor();
    const { download, text } = await tab.download(() => written.getByRole("button", { name: "Download squares.csv" }).click());
    assert.equal(download.suggestedFilename(), "squares.csv");
    assert.equal(text, "3,9\n4,16\n5,25");
  }));

test(".ipynb: the notebook is saved as nbformat 4.5 with its outputs, and loads into another tab", async () => {
  const tab = await signedIn();
  await tab.ran(0, "print('saved output')\n21 * 2");
  const { download, text } = await tab.download(() => tab.page.locator("#save").click());
  assert.equal(download.suggestedFilename(), "notebook.ipynb");
  const file = JSON.parse(text) as { nbformat: number; nbformat_minor: number; metadata: { kernelspec: { name: string } }; cells: { id: string; cell_type: string; source: string[]; execution_count: number | null; outputs: { output_type: string }[] }[] };
  assert.equal(file.nbformat, 4);
  assert.equal(file.nbformat_minor, 5);
  assert.equal(file.metadata.kernelspec.name, "python3");
  const [first] = file.cells;
  assert.deepEqual(first!.source, ["print('saved output')\n", "21 * 2"]);
  assert.equal(first!.execution_count, 1);
  assert.deepEqual(
    first!.outputs.map((output) => output.output_type),
    ["stream", "execute_result"],
  );
  await tab.close();
  const other = await signedIn();
  await other.page.locator("#load").setInputFiles({ name: "analysis.ipynb", mimeType: "application/x-ipynb+json", buffer: Buffer.from(text) });
  await other.shows(other.page.locator("#status"), "Loaded analysis.ipynb: 2 cells");
  await other.shows(other.cell(0).locator(".cm-content"), "21 * 2");
  await other.shows(other.cell(0).locator(".outputs"), "saved output");
  assert.equal(await other.cell(0).locator(".count").textContent(), "[1]");
  await other.page.locator("#load").setInputFiles({ name: "broken.ipynb", mimeType: "application/json", buffer: Buffer.from('{"nbformat": 3}') });
  await other.shows(other.page.locator("#status"), "broken.ipynb: the notebook is nbformat 3");
  await other.close();
});

test("a narrow window in the dark theme: one column, nothing wider than the window; the Theme button switches to light", () =>
  inTab(async (tab) => {
    assert.equal(await tab.evaluate("document.documentElement.dataset.theme"), "dark");
    await tab.ran(0, "print('a fairly long line of output that has to wrap on a narrow window ' * 3)\n{'key': list(range(30))}");
    assert.equal(await tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), true, "no sideways scrolling");
    const background = () => tab.evaluate<string>("getComputedStyle(document.body).backgroundColor");
    const dark = await background();
    await tab.screenshot("notebook-narrow-dark.png");
    await tab.page.locator("#theme").click();
    assert.equal(await tab.evaluate("document.documentElement.dataset.theme"), "light");
    const light = await background();
    const brightness = (rgb: string) => (rgb.match(/\d+/g) ?? []).slice(0, 3).reduce((sum, value) => sum + Number(value), 0);
    assert.ok(brightness(dark) < 150 && brightness(light) > 600, `${dark} then ${light}`);
  }, { viewport: { width: 380, height: 800 }, colorScheme: "dark" }));
