// Which host names and addresses are this machine's own: a development server binds only these,
// and hands its token only to requests that came over them for them.

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}
