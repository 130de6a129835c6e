// Outputs as elements. Text (streams, text/plain, tracebacks, JSON) is set as text, never parsed
// as HTML; images go in as data URLs of checked base64; HTML, SVG and Markdown (made HTML) go into
// sandboxed output frames (output-frame.ts). The richest kind of a bundle that can be shown wins,
// as in Jupyter.
import { marked } from "marked";
import type { MimeBundle } from "../../protocol/frames.ts";
import { arrange, element } from "./dom.ts";
import type { Output } from "./notebook.ts";
import { outputFrame } from "./output-frame.ts";

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/** Draws `outputs` into `container`, keeping the elements of outputs already drawn. */
export function syncOutputs(container: HTMLElement, outputs: readonly Output[], drawn: WeakMap<Output, HTMLElement>): void {
  arrange(
    container,
    outputs.map((output) => {
      const element = drawn.get(output);
      if (!element) {
        const made = outputElement(output);
        drawn.set(output, made);
        return made;
      }
      if (output.output_type === "stream" && element.textContent !== output.text) element.textContent = output.text; // a stream grows in place
      return element;
    }),
  );
}

function outputElement(output: Output): HTMLElement {
  switch (output.output_type) {
    case "stream":
      return text(output.text, `output stream ${output.name}`);
    case "error": {
      const traceback = output.traceback.join("\n").trim();
      return text(traceback || `${output.ename}: ${output.evalue}`, "output error");
    }
    case "display_data":
    case "execute_result":
      return bundleElement(output.data);
  }
}

function bundleElement(data: MimeBundle): HTMLElement {
  const html = textOf(data["text/html"]);
  if (html !== null) return framed(html, "HTML output");
  const markdown = textOf(data["text/markdown"]);
  if (markdown !== null) return framed(marked.parse(markdown, { async: false }), "Markdown output");
  const svg = textOf(data["image/svg+xml"]);
  if (svg !== null) return framed(svg, "SVG output");
  for (const mime of ["image/png", "image/jpeg", "image/gif"]) {
    const base64 = textOf(data[mime]);
    if (base64 !== null && BASE64.test(base64)) return image(`data:${mime};base64,${base64.replace(/\s/g, "")}`, textOf(data["text/plain"]) ?? "image output");
  }
  if ("application/json" in data) return text(JSON.stringify(data["application/json"], null, 2), "output json");
  return text(textOf(data["text/plain"]) ?? textOf(data["text/latex"]) ?? "", "output result");
}

function textOf(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function text(content: string, className: string): HTMLElement {
  return element("pre", className, content);
}

function image(src: string, alt: string): HTMLElement {
  return Object.assign(element("img", "output image"), { src, alt });
}

function framed(html: string, title: string): HTMLElement {
  const wrapper = element("div", "output rich");
  wrapper.append(outputFrame(html, title));
  return wrapper;
}
