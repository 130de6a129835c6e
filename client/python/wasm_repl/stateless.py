"""The original guide's stateless HTTP API, ``POST /execute``: code (and variables, files, an
environment) in, the guide's answer out. Without ``session_id`` the code runs in a fresh sandbox
that is discarded after; with one, in that persistent session."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Mapping, TypedDict

from ._http import default_url, http_base, http_json, resolve_token
from .sync import run_blocking
from .types import ExecuteResponse

if TYPE_CHECKING:
    from typing_extensions import Unpack


class StatelessOptions(TypedDict, total=False):
    """The keyword arguments of :func:`execute` (those of :func:`execute_async`)."""

    context: Mapping[str, Any] | None
    timeout: float | None
    session_id: str | None
    files: Mapping[str, bytes | str] | None
    env: Mapping[str, str] | None
    url: str | None
    token: str | None


async def execute_async(
    code: str,
    *,
    context: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    session_id: str | None = None,
    files: Mapping[str, bytes | str] | None = None,
    env: Mapping[str, str] | None = None,
    url: str | None = None,
    token: str | None = None,
) -> ExecuteResponse:
    """Runs ``code`` once. ``context``: JSON values that become Python variables first (the guide's
    ``context``); ``files``: written into the working directory first (text as UTF-8); what the
    code leaves in ``outputs/`` comes back in ``files``. A Python error or timeout is an answer
    (``success`` False, ``error`` the traceback); a refused request raises its WasmReplError."""
    url = default_url(url)
    body: dict[str, Any] = {"code": code, "context": dict(context or {})}
    if timeout is not None:
        body["timeout"] = timeout
    if session_id is not None:
        body["session_id"] = session_id
    if files:
        body["files"] = {path: base64.b64encode(data.encode("utf-8") if isinstance(data, str) else data).decode("ascii") for path, data in files.items()}
    if env is not None:
        body["env"] = dict(env)
    answer = await http_json(f"{http_base(url)}/execute", "POST", token=await resolve_token(url, token), payload=body)
    return ExecuteResponse.from_json(answer)


def execute(code: str, **options: Unpack[StatelessOptions]) -> ExecuteResponse:
    """:func:`execute_async`, blocking."""
    return run_blocking(execute_async(code, **options))
