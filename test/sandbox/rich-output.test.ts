// Rich output as Jupyter has it: display() and IPython.display send display messages while the
// cell runs, in order with its streams; a trailing value's MIME bundle comes with the result.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CellRequest, DisplayMessage } from "../../server/sandbox/sandbox.ts";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";

const MAX_OUTPUT_BYTES = 64 * 1024;
const runtime = await startTestRuntime({ poolSize: 1, limits: { maxOutputBytes: MAX_OUTPUT_BYTES } });
const sandbox = await runtime.pool.take();

type Event = [string, string] | DisplayMessage;

/** Runs a cell and records its streams and display messages, in the order they arrived. */
async function runRecorded(code: string, request: Partial<CellRequest> = {}) {
  const events: Event[] = [];
  const result = await run(sandbox, code, { ...request, onOutput: (name, text) => events.push([name, text]), onDisplay: (message) => events.push(message) });
  return { result, events, displays: events.filter((event): event is DisplayMessage => !Array.isArray(event)) };
}

const PNG = Buffer.from("\x89PNG\r\n\x1a\nDATA", "latin1").toString("base64");

test("display() and IPython.display's objects arrive as display messages, in order with the streams", async () => {
  const { result, events } = await runRecorded(
    [
      "import sys",
      "from IPython.display import HTML, Markdown, clear_output, display as ipython_display",
      "print('before')",
      "print('unfinished line', end='')",
      "ipython_display(HTML('<b>bold</b>'))",
      "print('between', file=sys.stderr)",
      "display(Markdown('# title'), 42)",
      "clear_output(wait=True)",
      "print('after')",
    ].join("\n"),
  );
  assert.equal(result.error, null);
  assert.deepEqual(events, [
    ["stdout", "before\n"],
    ["stdout", "unfinished line"],
    { kind: "display", data: { "text/html": "<b>bold</b>", "text/plain": "<IPython.display.HTML object>" }, metadata: {}, display_id: null, update: false },
    ["stderr", "between\n"],
    { kind: "display", data: { "text/markdown": "# title", "text/plain": "<IPython.display.Markdown object>" }, metadata: {}, display_id: null, update: false },
    { kind: "display", data: { "text/plain": "42" }, metadata: {}, display_id: null, update: false },
    { kind: "clear_output", wait: true },
    ["stdout", "after\n"],
  ]);
  assert.equal(result.stdout, "before\nunfinished lineafter\n", "display messages are not part of stdout");
});

test("a trailing value with _repr_html_ and _repr_png_ gives its bundle as result.data; value stays the repr", async () => {
  const result = await run(
    sandbox,
    "class Card:\n    def __repr__(self): return 'Card()'\n    def _repr_html_(self): return '<b>card</b>'\n" +
      "    def _repr_png_(self): return b'\\x89PNG\\r\\n\\x1a\\nDATA'\nCard()",
  );
  assert.equal(result.error, null);
  assert.equal(result.value, "Card()");
  assert.deepEqual(result.data, { "text/html": "<b>card</b>", "image/png": PNG, "text/plain": "Card()" });
  assert.deepEqual((await run(sandbox, "1 + 1")).data, { "text/plain": "2" });
  assert.equal((await run(sandbox, "None")).data, null);
  assert.equal((await run(sandbox, "x = 1")).data, null);
  assert.equal((await run(sandbox, "raise ValueError('no value')")).data, null);
});

test("a _repr_ method that raises is skipped and never breaks the cell", async () => {
  const { result, displays } = await runRecorded(
    "class Flaky:\n    def __repr__(self): return 'Flaky()'\n    def _repr_html_(self): raise RuntimeError('broken')\n" +
      "    def _repr_markdown_(self): return '*fine*'\n    def _repr_json_(self): return {'nan': float('nan')}\ndisplay(Flaky())\nFlaky()",
  );
  assert.equal(result.error, null);
  const bundle = { "text/markdown": "*fine*", "text/plain": "Flaky()" };
  assert.deepEqual(result.data, bundle, "the raising _repr_html_ and the JSON that is not JSON are left out");
  assert.deepEqual(displays.map((message) => message.kind === "display" && message.data), [bundle]);
});

test("_repr_mimebundle_ and (data, metadata) pairs give the bundle and its metadata", async () => {
  const { result, displays } = await runRecorded(
    "class Chart:\n    def _repr_mimebundle_(self, include=None, exclude=None):\n" +
      "        return {'application/vnd.chart+json': {'points': [1, 2]}, 'text/plain': 'a chart', 'not a mime': 1}, {'application/vnd.chart+json': {'v': 1}}\n" +
      "class Picture:\n    def _repr_png_(self): return b'\\x89PNG\\r\\n\\x1a\\nDATA', {'width': 10}\n" +
      "display(Chart(), Picture(), metadata={'shown': True})",
  );
  assert.equal(result.error, null);
  assert.deepEqual(
    displays.map((message) => message.kind === "display" && [message.data, message.metadata]),
    [
      [{ "application/vnd.chart+json": { points: [1, 2] }, "text/plain": "a chart" }, { "application/vnd.chart+json": { v: 1 }, shown: true }],
      [{ "image/png": PNG, "text/plain": (displays[1] as { data: Record<string, string> }).data["text/plain"] }, { "image/png": { width: 10 }, shown: true }],
    ],
  );
  assert.match((displays[1] as { data: Record<string, string> }).data["text/plain"]!, /^<__main__\.Picture object at 0x/);
});

test("IPython.display's objects: images from bytes and files, JSON, SVG, LaTeX, raw bundles", async () => {
  const { result, displays } = await runRecorded(
    [
      "from IPython.display import Image, JSON, SVG, Latex, Javascript",
      "open('/tmp/photo.jpg', 'wb').write(b'\\xff\\xd8\\xff\\xe0JPEGDATA')",
      "display(Image(b'\\x89PNG\\r\\n\\x1a\\nDATA', width=20), Image(filename='/tmp/photo.jpg'), Image('/tmp/photo.jpg'))",
      "display(Image(url='https://example.com/a.png'))",
      "display(JSON({'a': [1]}), SVG('<svg/>'), Latex('$x^2$'), Javascript('1'))",
      "display({'text/plain': 'raw', 'text/html': '<i>raw</i>'}, raw=True)",
    ].join("\n"),
  );
  assert.equal(result.error, null, JSON.stringify(result.error));
  const shown = displays.map((message) => message.kind === "display" && { ...message.data, "text/plain": undefined });
  const jpeg = Buffer.from("\xff\xd8\xff\xe0JPEGDATA", "latin1").toString("base64");
  assert.deepEqual(shown, [
    { "image/png": PNG, "text/plain": undefined },
    { "image/jpeg": jpeg, "text/plain": undefined },
    { "image/jpeg": jpeg, "text/plain": undefined },
    { "text/html": '<img src="https://example.com/a.png"/>', "text/plain": undefined },
    { "application/json": { a: [1] }, "text/plain": undefined },
    { "image/svg+xml": "<svg/>", "text/plain": undefined },
    { "text/latex": "$x^2$", "text/plain": undefined },
    { "application/javascript": "1", "text/plain": undefined },
    { "text/html": "<i>raw</i>", "text/plain": undefined },
  ]);
  assert.deepEqual((displays[0] as { metadata: unknown }).metadata, { "image/png": { width: 20 } });
  assert.deepEqual((displays[4] as { metadata: unknown }).metadata, { "application/json": { expanded: false, root: "root" } });
});

test("a display_id names an output that update_display replaces", async () => {
  const { result, displays } = await runRecorded(
    "from IPython.display import update_display\nhandle = display('first', display_id=True)\nhandle.update('second')\n" +
      "display('third', display_id='mine')\nupdate_display('fourth', display_id='mine')",
  );
  assert.equal(result.error, null);
  const id = (displays[0] as { display_id: string }).display_id;
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.deepEqual(
    displays.map((message) => message.kind === "display" && [message.data["text/plain"], message.display_id, message.update]),
    [["'first'", id, false], ["'second'", id, true], ["'third'", "mine", false], ["'fourth'", "mine", true]],
  );
  const refused = await run(sandbox, "update_display('x', display_id=None)");
  assert.equal(refused.error?.type, "TypeError");
});

test("displays share the cell's output cap with its streams: past it a display is dropped and counted", async () => {
  const { result, displays } = await runRecorded(
    `print("p" * 1000)\ndisplay({"text/plain": "a" * 40000}, raw=True)\ndisplay({"text/plain": "b" * 40000}, raw=True)\ndisplay("small")\n` +
      `class Big:\n    def _repr_html_(self): return "h" * 50000\nBig()`,
  );
  assert.equal(result.error, null);
  assert.deepEqual(
    displays.map((message) => message.kind === "display" && String(message.data["text/plain"]).slice(0, 3)),
    ["aaa", "'sm"],
    "the second large display did not fit what was left",
  );
  assert.ok(result.output_dropped_bytes > 40_000 && result.output_dropped_bytes < 41_000, `${result.output_dropped_bytes} bytes dropped`);
  assert.equal((result.data?.["text/html"] as string).length, 50_000, "the value's bundle has the cap to itself");
  const over = await run(sandbox, `class Huge:\n    def _repr_html_(self): return "h" * ${MAX_OUTPUT_BYTES}\nHuge()`);
  assert.equal(over.data, null, "a bundle over the cap is dropped");
  assert.match(over.value!, /^<__main__\.Huge object/, "the value's repr still comes");
  assert.ok(over.output_dropped_bytes > MAX_OUTPUT_BYTES, `${over.output_dropped_bytes} bytes dropped`);
});

test("IPython's own names: the module is callable as display, and get_ipython says there is no shell", async () => {
  const { result, displays } = await runRecorded("from IPython import display, get_ipython\nimport IPython.core.display as old\ndisplay(display.HTML('x'))\nold.display(1)\nget_ipython()");
  assert.equal(result.error, null, JSON.stringify(result.error));
  assert.equal(result.value, null);
  assert.equal(displays.length, 2);
});
