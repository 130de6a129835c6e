"""Errors from wasm-repl, each carrying the protocol's error code (PROTOCOL.md, "Error codes").

A Python error inside a cell is not an exception here: it is the result's ``error`` (as in the
TypeScript SDK, whose ``execute`` resolves with the result frame whether the Python succeeded or
not). These exceptions are for what the server refused or what went wrong on the way.
"""

from __future__ import annotations

import json
from typing import Any


class WasmReplError(Exception):
    """An error from wasm-repl: ``code`` is the protocol's error code (``"unauthorized"``,
    ``"session_not_found"``, ...); ``status`` the HTTP status when there was one; ``reason`` the
    stable word of an authentication failure (``"bad_signature"``, ``"token_expired"``, ...).

    Failures on the client's side (the server cannot be reached, a connection that closed before
    the session answered) carry ``"internal"``, as the TypeScript SDK's do.
    """

    code: str = "internal"

    def __init__(self, code: str, message: str, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class BadRequest(WasmReplError):
    """``bad_request``: a malformed frame or request, a bad path, a duplicate cell id."""


class Unauthorized(WasmReplError):
    """``unauthorized``: the token is missing, malformed, badly signed or expired (see ``reason``)."""


class Forbidden(WasmReplError):
    """``forbidden``: the token lacks a scope the request needs."""


class NotFound(WasmReplError):
    """``not_found``: an HTTP route that does not exist (the base of the two below)."""


class SessionNotFound(NotFound):
    """``session_not_found``: no such session, or one the token may not see."""


class FileNotFound(NotFound):
    """``file_not_found``: no file at a session's path."""


class SessionExpired(WasmReplError):
    """``session_expired``: the session ended (idle, closed, evicted)."""


class SessionLost(WasmReplError):
    """``session_lost``: its server died before its state was saved; it cannot be recovered."""


class ServerDraining(WasmReplError):
    """``server_draining``: the server is shutting down; retry (the session moves elsewhere)."""


class Busy(WasmReplError):
    """``busy``: the queue or buffers are full, or the session is moving; retry shortly."""


class QuotaExceeded(WasmReplError):
    """``quota_exceeded``: a tenant's or the server's limit; the message names it."""


class TooLarge(WasmReplError):
    """``too_large``: a frame, payload or file over its limit."""


class ReplayGap(WasmReplError):
    """``replay_gap``: frames this client missed were no longer buffered (a pending result may be among them)."""


class SandboxFailed(WasmReplError):
    """``sandbox_failed``: no interpreter could run the work."""


class StoreUnavailable(WasmReplError):
    """``store_unavailable``: the server cannot reach its store; retry shortly."""


class InternalError(WasmReplError):
    """``internal``: a bug on the server's side, or a failure of the connection on the client's."""


class ConnectionFailed(InternalError):
    """The server could not be reached, or the connection ended and could not be made again."""


class Timeout(InternalError):
    """The server did not answer in time (opening a connection, an HTTP request)."""


ERRORS_BY_CODE: dict[str, type[WasmReplError]] = {
    "bad_request": BadRequest,
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "session_not_found": SessionNotFound,
    "file_not_found": FileNotFound,
    "session_expired": SessionExpired,
    "session_lost": SessionLost,
    "server_draining": ServerDraining,
    "busy": Busy,
    "quota_exceeded": QuotaExceeded,
    "too_large": TooLarge,
    "replay_gap": ReplayGap,
    "sandbox_failed": SandboxFailed,
    "store_unavailable": StoreUnavailable,
    "internal": InternalError,
}


def error_for(code: str, message: str, status: int | None = None, reason: str | None = None) -> WasmReplError:
    """The exception of a protocol error code (a code this client does not know: the base class)."""
    cls = ERRORS_BY_CODE.get(code, WasmReplError)
    return cls(code, message, status, reason)


def error_from_body(status: int, body: bytes | str) -> WasmReplError:
    """The error an HTTP answer of the server's carries (a refused upgrade, a REST route's answer)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        parsed: Any = json.loads(text)
        code, message = parsed["code"], parsed["message"]
        if not isinstance(code, str) or not isinstance(message, str):
            raise TypeError("code and message must be strings")
    except (ValueError, KeyError, TypeError):
        return InternalError("internal", f"the server answered HTTP {status}: {text[:200]}", status)
    reason = parsed.get("reason")
    return error_for(code, message, status, reason if isinstance(reason, str) else None)
