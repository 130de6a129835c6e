"""The original guide's stateless HTTP API, ``POST /execute``: code (and variables, files, an
environment) in, the guide's answer out. Without ``session_id`` the code runs in a fresh sandbox
that is discarded after; with one, in that persistent session."""

from __future__ import annotations

import base64
from typing import Any, Mapping

from ._http import default_url, http_base, http_json, resolve_token
from .sync import run_blocking
from .types import ExecuteResponse, RlmCall


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
    return ExecuteResponse(
        success=bool(answer["success"]),
        stdout=str(answer.get("stdout", "")),
        stderr=str(answer.get("stderr", "")),
        locals=dict(answer.get("locals") or {}),
        execution_time=float(answer.get("execution_time", 0.0)),
        error=answer.get("error"),
        value=answer.get("value"),
        final_answer=answer.get("final_answer"),
        rlm_calls=[RlmCall.from_frame(call) for call in answer.get("rlm_calls") or []],
        files={path: base64.b64decode(data) for path, data in (answer.get("files") or {}).items()},
        files_omitted=list(answer.get("files_omitted") or []),
    )


def execute(
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
    """:func:`execute_async`, blocking."""
    return run_blocking(execute_async(code, context=context, timeout=timeout, session_id=session_id, files=files, env=env, url=url, token=token))
