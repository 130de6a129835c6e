// Untrusted HTML (what a cell displays as HTML, SVG or Markdown) in a frame of its own: the page's
// output frame document (frame.html), sandboxed with allow-scripts only. Without allow-same-origin
// its document has an opaque origin, so its scripts run but cannot read this page's DOM, storage
// (the token) or cookies, navigate the page, or ask the server with the page's rights. The frame
// is handed its HTML once it has loaded and sizes itself by the height it reports: a message is
// taken only from that frame's own window, and only as a number.

/** Where the output frame's document is: beside this bundle, under the page's version. */
const FRAME_URL = new URL("frame.html", import.meta.url).href;
/** The tallest a frame may make itself; its content scrolls past that. */
const MAX_HEIGHT = 4000;

const frames = new WeakMap<MessageEventSource, HTMLIFrameElement>();

addEventListener("message", (event) => {
  const frame = event.source && frames.get(event.source);
  const height: unknown = frame && typeof event.data === "object" && event.data !== null ? (event.data as { height?: unknown }).height : undefined;
  if (!frame || typeof height !== "number" || !Number.isFinite(height)) return;
  frame.style.height = `${Math.min(MAX_HEIGHT, Math.max(0, Math.ceil(height)))}px`;
});

export function outputFrame(html: string, title: string): HTMLIFrameElement {
  const frame = document.createElement("iframe");
  frame.className = "output-frame";
  frame.setAttribute("sandbox", "allow-scripts");
  frame.title = title;
  frame.src = FRAME_URL;
  // Handed again at every load: the frame reloads when the page moves it (its cell moved).
  frame.addEventListener("load", () => {
    const window = frame.contentWindow;
    if (!window) return;
    frames.set(window, frame);
    window.postMessage({ html, scheme: document.documentElement.dataset.theme === "dark" ? "dark" : "light" }, "*");
  });
  return frame;
}
