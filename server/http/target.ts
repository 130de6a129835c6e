// A request's target as a URL, read without trusting it: Node hands over the raw request line's
// target, and `new URL` throws on many of them (`http://x:99999/`, `http://[/`).

/** A `.` or `..` path segment, percent-encoded or not. */
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;

/**
 * The target of `request.url` as a URL, or null when it is not one this server routes: the
 * origin-form (`/path?query`), or the absolute-form (`http://host/path`), which RFC 9112 (3.2.2)
 * has servers accept and which routes by its path (the host in it is not checked). Anything
 * else (`*`, a bad port or host, no leading slash) is null: the caller answers 400. So is a path
 * with a `.` or `..` segment, which URL parsing would resolve into another route's path (a
 * file's `DELETE .../files/..` into the session's own): clients resolve those before sending.
 */
export function requestTarget(raw: string | undefined): URL | null {
  const target = raw ?? "/";
  if (DOT_SEGMENT.test(pathOf(target))) return null;
  try {
    // "http://localhost" + target keeps "//x" a path, where new URL(target, base) would make x a host.
    if (target.startsWith("/")) return new URL(`http://localhost${target}`);
    if (/^https?:\/\//i.test(target)) return new URL(target);
  } catch {
    // not a URL: refused below
  }
  return null;
}

/** Says what the caller sent, for a 400: the target itself, cut short. */
export function badTarget(raw: string | undefined): string {
  const shown = JSON.stringify((raw ?? "").slice(0, 100));
  if (DOT_SEGMENT.test(pathOf(raw ?? ""))) return `the request target ${shown} has a . or .. segment; send the path it stands for`;
  return `the request target ${shown} is not a path (/v1/sessions) or an http(s) URL`;
}

/** The path of a raw target: without the scheme and host of the absolute-form, and without its query. */
function pathOf(target: string): string {
  return target.replace(/^https?:\/\/[^/?#]*/i, "").split(/[?#]/, 1)[0]!;
}
