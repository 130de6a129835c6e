// Whether a host name or address is this machine's own: what a development server binds, and
// whom it hands its token (development-token.ts).
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}
