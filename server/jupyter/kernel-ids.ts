// A kernel is a session, and its id is the session's: the 32 hex digits of a session id in the
// UUID shape (8-4-4-4-12) that Jupyter's clients expect of a kernel id. The two forms map one to
// one, and either is accepted wherever a kernel id comes in.

const SESSION_ID = /^[0-9a-f]{32}$/;
const KERNEL_ID = /^([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})$/i;

/** The kernel id of a session id. */
export function kernelIdOf(sessionId: string): string {
  if (!SESSION_ID.test(sessionId)) throw new Error(`a session id is 32 hex digits; got ${JSON.stringify(sessionId)}`);
  return `${sessionId.slice(0, 8)}-${sessionId.slice(8, 12)}-${sessionId.slice(12, 16)}-${sessionId.slice(16, 20)}-${sessionId.slice(20)}`;
}

/** The session id a kernel id names (in either form), or null when it cannot name one. */
export function sessionIdOf(kernelId: string): string | null {
  const parts = KERNEL_ID.exec(kernelId);
  // Dashes are all there or all missing: a half-dashed id is a typo, not a kernel.
  if (parts === null || (kernelId.includes("-") && kernelId.length !== 36)) return null;
  return parts.slice(1).join("").toLowerCase();
}
