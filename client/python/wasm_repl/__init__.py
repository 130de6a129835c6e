"""wasm-repl's Python client: persistent sandboxed Python sessions on a wasm-repl server.

- :class:`AsyncSession` (asyncio) and :class:`Session` (blocking): open, attach, execute with
  streaming output, interrupt, variables and context payloads, files; reconnects by itself.
- :func:`execute` / :func:`execute_async`: the original guide's stateless ``POST /execute``.
- :class:`WASMREPLEnv`: the guide's "Integration with RLM" environment.
- ``wasm_repl.rlm_env.WasmReplREPL``: an environment of the RLM library.

The URL defaults to ``WASM_REPL_URL``, else http://127.0.0.1:8000; the token to
``WASM_REPL_TOKEN``, else (on this machine) a development server's own.
"""

from .errors import (
    BadRequest,
    Busy,
    ConnectionFailed,
    FileNotFound,
    Forbidden,
    InternalError,
    NotFound,
    QuotaExceeded,
    ReplayGap,
    SandboxFailed,
    ServerDraining,
    SessionExpired,
    SessionLost,
    SessionNotFound,
    StoreUnavailable,
    Timeout,
    TooLarge,
    Unauthorized,
    WasmReplError,
)
from .files import AsyncSessionFiles
from .guide import WASMREPLEnv
from .session import AsyncSession
from .stateless import execute, execute_async
from .sync import Session
from .types import CellError, ExecuteResponse, ExecuteResult, FileInfo, FileListing, RlmCall, SessionLimits

__version__ = "0.1.0"

__all__ = [
    "AsyncSession",
    "AsyncSessionFiles",
    "BadRequest",
    "Busy",
    "CellError",
    "ConnectionFailed",
    "ExecuteResponse",
    "ExecuteResult",
    "FileInfo",
    "FileListing",
    "FileNotFound",
    "Forbidden",
    "InternalError",
    "NotFound",
    "QuotaExceeded",
    "ReplayGap",
    "RlmCall",
    "SandboxFailed",
    "ServerDraining",
    "Session",
    "SessionExpired",
    "SessionLimits",
    "SessionLost",
    "SessionNotFound",
    "StoreUnavailable",
    "Timeout",
    "TooLarge",
    "Unauthorized",
    "WASMREPLEnv",
    "WasmReplError",
    "execute",
    "execute_async",
]
