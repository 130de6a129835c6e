// A table of routes, each declared once as a method and a path pattern. It finds the route a
// request is for, tells a path it knows (for other methods) from a path it does not know, and
// writes the texts that answer a request no route serves, so that they list the routes there are.
// It knows nothing of servers, handlers or tokens: the routes it holds carry those.

/** "WEBSOCKET" is a GET with Upgrade: websocket, routed apart from plain requests. */
export type Method = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "WEBSOCKET";

export interface RouteSpec {
  readonly method: Method;
  /**
   * Literal segments and named parameters, as in "/v1/sessions/:id"; the last segment may be
   * "*name", which takes the rest of the path (slashes included), as in "/files/*path".
   */
  readonly path: string;
}

export type Params = Readonly<Record<string, string>>;

/** The parameter `name` of a matched route: its pattern declares it, or asking is a bug. */
export function param(params: Params, name: string): string {
  const value = params[name];
  if (value === undefined) throw new Error(`the route has no parameter ${name}`);
  return value;
}

/** The route found, of the kind asked for; or none, and the routes at the path that are not of that kind (none when no route has the path). */
export type Match<Found, R> = { readonly route: Found; readonly params: Params } | { readonly route: null; readonly others: readonly R[] };

type WebSocketOf<R> = R & { method: "WEBSOCKET" };
type PlainOf<R> = Exclude<R, { method: "WEBSOCKET" }>;

/**
 * What a parameter matches: an identifier as this server makes them (session ids). Anything else
 * in its place matches no route, so a handler never sees a value it would have to refuse.
 */
const PARAM = "[A-Za-z0-9_-]{1,64}";
/** What a tail parameter matches: the rest of the path as it came (still percent-encoded; its handler decodes and checks it). */
const TAIL = ".+";
const PARAM_NAME = /^([:*])([A-Za-z][A-Za-z0-9]*)$/;
const LITERAL = /^[A-Za-z0-9._~-]+$/;

interface Compiled<R> {
  route: R;
  pattern: RegExp;
  names: string[];
}

export class RouteTable<R extends RouteSpec> {
  private readonly compiled: Compiled<R>[];

  constructor(readonly routes: readonly R[]) {
    this.compiled = routes.map((route) => compile(route));
    const seen = new Set<string>();
    for (const { route } of this.compiled) {
      // Two patterns that differ only in their parameters' names match the same paths.
      const key = `${route.method} ${route.path.replace(/([:*])[^/]+/g, "$1")}`;
      if (seen.has(key)) throw new Error(`the route ${route.method} ${route.path} is declared twice`);
      seen.add(key);
    }
  }

  /**
   * The route for a plain request (not an upgrade) of `method` at `path`: a URL's pathname, as it
   * came (not decoded). One trailing slash is tolerated. When routes overlap, the first declared wins.
   */
  forRequest(method: string, path: string): Match<PlainOf<R>, R> {
    return this.find(path, (route): route is PlainOf<R> => route.method === method && route.method !== "WEBSOCKET");
  }

  /** The WebSocket route at `path`, whatever method the upgrade request names (the handshake checks that). */
  forUpgrade(path: string): Match<WebSocketOf<R>, R> {
    return this.find(path, (route): route is WebSocketOf<R> => route.method === "WEBSOCKET");
  }

  private find<Found extends R>(path: string, wanted: (route: R) => route is Found): Match<Found, R> {
    const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
    const others: R[] = [];
    for (const { route, pattern, names } of this.compiled) {
      const found = pattern.exec(trimmed);
      if (found === null) continue;
      if (wanted(route)) return { route, params: Object.fromEntries(names.map((name, index) => [name, found[index + 1]!])) };
      others.push(route);
    }
    return { route: null, others };
  }

  /** The answer to `method` at `path` that no route serves: what the path serves, or when no route has the path, every route. */
  noRoute(method: string, path: string, others: readonly R[]): string {
    if (others.length === 0) return `no route for ${method} ${path}; this port serves ${list(this.routes.map(shownRoute))}`;
    const upgrade = others.some((route) => route.method === "WEBSOCKET") ? " (a WebSocket is a GET with Upgrade: websocket)" : "";
    return `no route for ${method} ${path}; this path serves ${list(others.map(shownRoute))}${upgrade}`;
  }

  /** The answer to an upgrade at `path` that no WebSocket route serves. */
  noWebSocket(path: string): string {
    const endpoints = this.routes.filter((route) => route.method === "WEBSOCKET").map((route) => shown(route.path));
    return endpoints.length === 0
      ? `no WebSocket endpoint at ${path}; this port has none`
      : `no WebSocket endpoint at ${path}; the WebSocket endpoints are ${list(endpoints)}`;
  }
}

function compile<R extends RouteSpec>(route: R): Compiled<R> {
  const segments = route.path.split("/").slice(1);
  if (!route.path.startsWith("/") || (segments.length > 1 && segments.at(-1) === "")) {
    throw new Error(`the route path ${JSON.stringify(route.path)} must start with a slash and not end with one`);
  }
  const names: string[] = [];
  const parts = segments.map((segment, index) => {
    const [, kind, name] = PARAM_NAME.exec(segment) ?? [];
    if (name !== undefined) {
      if (names.includes(name)) throw new Error(`the route path ${route.path} names the parameter ${name} twice`);
      if (kind === "*" && index !== segments.length - 1) throw new Error(`the route path ${route.path} has *${name} before its last segment: a tail parameter takes the rest of the path`);
      names.push(name);
      return `(${kind === "*" ? TAIL : PARAM})`;
    }
    if (segment !== "" && !LITERAL.test(segment)) throw new Error(`the route path ${route.path} has a segment that is neither literal, :name nor *name: ${JSON.stringify(segment)}`);
    return segment.replace(/[.]/g, "\\.");
  });
  return { route, pattern: new RegExp(`^/${parts.join("/")}$`), names };
}

/** "GET /health", "WebSocket /v1/sessions/{id}". */
function shownRoute(route: RouteSpec): string {
  return `${route.method === "WEBSOCKET" ? "WebSocket" : route.method} ${shown(route.path)}`;
}

/** A pattern as people write it: "/v1/sessions/{id}". */
function shown(path: string): string {
  return path.replace(/[:*]([A-Za-z0-9]+)/g, "{$1}");
}

/** "a", "a and b", "a, b and c". */
function list(items: readonly string[]): string {
  return items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}
