// A request's target as a URL, read without trusting it: Node hands over the raw request line's
// target, and `new URL` throws on many of them (`http://x:99999/`, `http://[/`).

/**
 * The target of `request.url` as a URL, or null when it is not one this server routes: the
 * origin-form (`/path?query`), or the absolute-form (`http://host/path`), which RFC 9112 (3.2.2)
 * has servers accept and which routes by its path (the host in it is not checked). Anything
 * else (`*`, a bad port or host, no leading slash) is null: the caller answers 400.
 */
export function requestTarget(raw: string | undefined): URL | null {
  const target = raw ?? "/";
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
  return `the request target ${JSON.stringify((raw ?? "").slice(0, 100))} is not a path (/v1/sessions) or an http(s) URL`;
}
