"""Plain HTTP beside a session's WebSocket (opening a session with an environment, files,
``POST /execute``, the development token), on the standard library: urllib in a thread."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .errors import ConnectionFailed, Timeout, Unauthorized, WasmReplError, error_from_body

DEFAULT_URL = "http://127.0.0.1:8000"
# Long enough for a POST /execute that waits its cell's whole timeout (MAX_EXECUTION_TIMEOUT).
HTTP_TIMEOUT_S = 600.0


def default_url(url: str | None) -> str:
    """The URL given, else ``WASM_REPL_URL``, else the development server's."""
    return url or os.environ.get("WASM_REPL_URL") or DEFAULT_URL


def http_base(url: str) -> str:
    """The server's http(s) URL for one given as http(s) or ws(s), without a trailing slash."""
    if url.startswith("ws"):
        url = "http" + url[2:]
    return url.rstrip("/")


def ws_base(url: str) -> str:
    base = http_base(url)
    return "ws" + base[4:]


def is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(http_base(url)).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _request_sync(url: str, method: str, token: str | None, body: bytes | None, content_type: str | None, timeout: float) -> tuple[int, bytes]:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as refused:
        with refused:
            raise error_from_body(refused.code, refused.read()) from None
    except (socket.timeout, TimeoutError) as late:
        raise Timeout("internal", f"{url} did not answer within {timeout:g} s") from late
    except urllib.error.URLError as failed:
        if isinstance(failed.reason, (socket.timeout, TimeoutError)):
            raise Timeout("internal", f"{url} did not answer within {timeout:g} s") from failed
        raise ConnectionFailed("internal", f"cannot reach {url}: {failed.reason}") from failed
    except OSError as failed:
        raise ConnectionFailed("internal", f"cannot reach {url}: {failed}") from failed


async def http_request(
    url: str,
    method: str = "GET",
    *,
    token: str | None,
    body: bytes | None = None,
    content_type: str | None = None,
    timeout: float = HTTP_TIMEOUT_S,
) -> tuple[int, bytes]:
    """Sends a request; returns a successful answer's status and body, raises the server's error otherwise."""
    return await asyncio.to_thread(_request_sync, url, method, token, body, content_type, timeout)


async def http_json(url: str, method: str = "GET", *, token: str | None, payload: Any = None, timeout: float = HTTP_TIMEOUT_S) -> Any:
    body = None if payload is None else json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
    _, answer = await http_request(url, method, token=token, body=body, content_type=None if body is None else "application/json", timeout=timeout)
    return json.loads(answer) if answer else None


NO_TOKEN = (
    "no token: pass token=..., or set WASM_REPL_TOKEN (a server prints its development token when it starts;"
    " `npm run token` makes others)"
)


async def resolve_token(url: str, token: str | None) -> str:
    """The token given, else ``WASM_REPL_TOKEN``, else a loopback development server's own
    (``GET /v1/development-token``); otherwise ``Unauthorized`` saying what to set."""
    if token:
        return token
    from_env = os.environ.get("WASM_REPL_TOKEN")
    if from_env:
        return from_env
    if not is_loopback(url):
        raise Unauthorized("unauthorized", f"{NO_TOKEN}; {http_base(url)} is not on this machine, so no development token is asked for", reason="missing_token")
    return await development_token(url)


async def development_token(url: str) -> str:
    """A development server's token, which it gives only to clients on its own machine."""
    try:
        answer = await http_json(f"{http_base(url)}/v1/development-token", token=None, timeout=30)
    except WasmReplError as refused:
        if refused.status == 404:
            raise Unauthorized(
                "unauthorized",
                f"{NO_TOKEN}; {http_base(url)} is not a development server (it has no /v1/development-token)",
                status=401,
                reason="missing_token",
            ) from None
        raise
    if not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
        raise Unauthorized("unauthorized", f"{NO_TOKEN}; {http_base(url)}/v1/development-token gave no token", reason="missing_token")
    token: str = answer["token"]
    return token
