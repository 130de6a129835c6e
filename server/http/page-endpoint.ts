// GET / and GET /page/{asset}: the notebook page (page/, bundled by page/bundle.ts) and its assets,
// from memory. The page runs no script but its own (a strict Content-Security-Policy, no inline
// script; inline styles only with the nonce of that answer, which the code editor's style elements
// carry) and talks to this origin alone. What cells display as HTML or SVG runs in output frames:
// sandboxed without allow-same-origin, so their documents have an opaque origin of their own and
// reach neither the page, its token, nor this server with the page's rights; their policy lets
// the output's own scripts and styles run but sends nothing anywhere.
import { randomBytes } from "node:crypto";
import type { PageAsset, PageBundle } from "../page/bundle.ts";
import type { HttpExchange, PublicRoute } from "./endpoint.ts";
import { sendError } from "./responses.ts";
import { param } from "./routes.ts";

/** The page's policy; `styleNonce`: the one of this answer, for the style elements the code editor makes. */
const pagePolicy = (styleNonce: string | null) => [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'self'${styleNonce ? ` 'nonce-${styleNonce}'` : ""}`,
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");
/** Where the page's shell says the nonce, so its code can hand it to the editor. */
const NONCE_PLACEHOLDER = "@style-nonce";

const OUTPUT_FRAME_POLICY = [
  // An opaque origin however the document is loaded (opened on its own, or framed without the page's sandbox attribute).
  "sandbox allow-scripts",
  "default-src 'none'",
  "script-src 'unsafe-inline' 'unsafe-eval' data: blob: https:",
  "style-src 'unsafe-inline' data: https:",
  "img-src data: blob: https:",
  "font-src data: https:",
  "media-src data: blob:",
  "connect-src 'none'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
].join("; ");

/** The shell names the assets of its own version: it is asked again every time, they never are. */
const SHELL_CACHING = "no-cache";
const ASSET_CACHING = "public, max-age=31536000, immutable";

export function servePage(page: PageBundle): PublicRoute["handle"] {
  const shell = page.index.body.toString("utf8");
  return ({ response }: HttpExchange) => {
    const nonce = randomBytes(16).toString("base64");
    send(response, { ...page.index, body: Buffer.from(shell.replaceAll(NONCE_PLACEHOLDER, nonce)) }, SHELL_CACHING, pagePolicy(nonce));
  };
}

export function servePageAsset(page: PageBundle): PublicRoute["handle"] {
  return ({ response, params }: HttpExchange) => {
    const [version, name, ...rest] = param(params, "asset").split("/");
    const asset = version === page.version && rest.length === 0 && name !== undefined ? page.assets.get(name) : undefined;
    if (!asset) return sendError(response, "not_found", `this server's page has no asset ${param(params, "asset")}; its assets are under /page/${page.version}/ (open / for the page)`);
    // The only document among the assets is the output frame's.
    send(response, asset, ASSET_CACHING, asset.contentType.startsWith("text/html") ? OUTPUT_FRAME_POLICY : pagePolicy(null));
  };
}

function send(response: HttpExchange["response"], asset: PageAsset, caching: string, policy: string): void {
  response.writeHead(200, {
    "content-type": asset.contentType,
    "content-length": asset.body.byteLength,
    "cache-control": caching,
    "content-security-policy": policy,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
  });
  response.end(asset.body);
}
