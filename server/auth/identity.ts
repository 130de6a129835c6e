// Who is calling: taken only from a verified token.
import type { ErrorCode } from "../../protocol/index.ts";

export interface Identity {
  /** The user: the token's `sub`. */
  user: string;
  tenant: string;
}

/** A refused request; `message` says which check failed and never contains the token. */
export class AuthError extends Error {
  constructor(
    readonly code: Extract<ErrorCode, "unauthorized" | "forbidden">,
    message: string,
  ) {
    super(message);
  }
}
