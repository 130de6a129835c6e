"""A wasm-repl session over a WebSocket that survives dropped connections (asyncio).

The TypeScript SDK's ``ReplSession`` (client/session.ts) in Python, with the same behaviour:
after a drop it reconnects by itself and asks for every frame after the last seq it saw
(``?since=``), so no output and no result is lost; a draining server's ``evicted {resumable}``
is followed to wherever the session wakes, and what the old server never ran is sent again.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import itertools
import json
import functools
import logging
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, TypedDict, Union

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidMessage
from websockets.legacy.client import WebSocketClientProtocol, connect

from ._http import default_url, http_base, http_json, resolve_token, ws_base
from .errors import (
    BadRequest,
    ConnectionFailed,
    Forbidden,
    ReplayGap,
    SessionExpired,
    Timeout,
    WasmReplError,
    error_for,
    error_from_body,
)
from .files import AsyncSessionFiles
from .types import DisplayEvent, ExecuteResult, FileListing, Frame, LocalsMode, SessionLimits

PROTOCOL = "wasm-repl.v1"
CONNECT_TIMEOUT_S = 15.0
# Frames as large as the server sends (a result is at most 1 MiB, a replay more frames, not larger ones).
MAX_FRAME_BYTES = 1024 * 1024 * 1024
# The session itself is gone, or the token will not do: reconnecting again cannot help.
GONE = ("session_expired", "session_lost", "session_not_found", "unauthorized", "forbidden")

log = logging.getLogger("wasm_repl")

TextCallback = Callable[[str], Union[None, Awaitable[None]]]
DisplayCallback = Callable[[DisplayEvent], Union[None, Awaitable[None]]]
InputCallback = Callable[[str, bool], Union[str, Awaitable[str]]]
Listener = Callable[..., Any]
Tool = Callable[..., Any]
"""A function Python in the session may call: it gets the call's positional and keyword
arguments (JSON values) and returns a JSON value; a coroutine function is awaited, a plain one
runs in a worker thread (so that a slow one does not hold up the session's frames). An exception
is a ``ToolError`` in Python, with its message."""
ToolEntry = Union[Tool, Mapping[str, Any]]
"""A tool, or ``{"tool": tool, "description": "..."}`` (the RLM library's custom_tools format)."""

# As protocol/validate.ts: names the session's own helpers take, and the tool-count cap.
RESERVED_TOOL_NAMES = frozenset(
    {"llm_query", "llm_query_batched", "rlm_query", "rlm_query_batched", "SHOW_VARS", "FINAL", "FINAL_VAR",
     "answer", "context", "history", "tools", "ToolError", "display", "print", "input"}
)
MAX_TOOLS = 64
MAX_TOOL_DESCRIPTION = 4096
_TOOL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")

_counter = itertools.count(1)


class ConnectOptions(TypedDict, total=False):
    token: str | None
    reconnect: bool
    max_reconnect_attempts: int
    tools: Mapping[str, ToolEntry] | None


class OpenOptions(ConnectOptions, total=False):
    """The keyword arguments of :meth:`AsyncSession.open` (and ``Session.open``)."""

    env: Mapping[str, str] | None
    rlm_call_text: bool


class AttachOptions(ConnectOptions, total=False):
    """The keyword arguments of :meth:`AsyncSession.attach` (and ``Session.attach``)."""

    since: int | None


class ExecuteOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`AsyncSession.execute` (and ``Session.execute``)."""

    timeout: float | None
    locals: LocalsMode | None
    on_stdout: TextCallback | None
    on_stderr: TextCallback | None
    on_display: DisplayCallback | None
    on_input: InputCallback | None
    id: str | None


def _next_id(kind: str) -> str:
    return f"{kind}-{int(time.time() * 1000):x}-{next(_counter)}"


def encode(frame: Mapping[str, Any]) -> str:
    """A frame as JSON text, as JavaScript's JSON.stringify writes it (compact, UTF-8 as is)."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def chunk_length(max_frame_bytes: int) -> int:
    """Characters per chunk such that a chunk's frame stays under the limit whatever it escapes
    (up to 6 bytes a character): the TypeScript SDK's rule."""
    return max(1024, min(8 * 1024 * 1024, (max_frame_bytes - 1024) // 6))


def utf16_length(text: str) -> int:
    """The length the server counts (a JavaScript string's): astral characters are two."""
    return len(text.encode("utf-16-le")) // 2


def payload_frames(kind: str, request_id: str, payload: Any, index: int | None, max_frame_bytes: int) -> list[str]:
    """An add_context or add_history request's frames: one when it fits, else chunks of its text
    (every one but the last with ``more``, each with its ``offset``), as the TypeScript SDK sends."""
    extra: dict[str, Any] = {} if index is None else {"index": index}
    whole = encode({"type": kind, "id": request_id, "payload": payload, **extra})
    if len(whole.encode("utf-8")) <= max_frame_bytes:
        return [whole]
    text = payload if isinstance(payload, str) else encode(payload)
    as_json: dict[str, Any] = {} if isinstance(payload, str) else {"json": True}
    size = chunk_length(max_frame_bytes)
    frames: list[str] = []
    offset = 0
    for start in range(0, len(text), size):
        piece = text[start : start + size]
        more: dict[str, Any] = {"more": True} if start + size < len(text) else {}
        frames.append(encode({"type": kind, "id": request_id, "payload": piece, "offset": offset, **more, **as_json, **extra}))
        offset += utf16_length(piece)
    return frames


class _Protocol(WebSocketClientProtocol):
    """Reads the body of a refused upgrade, where the server says why (``{code, message}``)."""

    async def read_http_response(self) -> Any:
        status, headers = await super().read_http_response()
        if status != 101:
            body = b""
            try:
                length = min(int(headers.get("Content-Length", "0") or 0), 64 * 1024)
                if length:
                    body = await asyncio.wait_for(self.reader.readexactly(length), CONNECT_TIMEOUT_S)
            except (ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                pass
            raise error_from_body(status, body)
        return status, headers


@dataclass
class _Pending:
    """A request waiting for its result (or error)."""

    future: asyncio.Future[ExecuteResult]
    frames: list[str]
    """Its frames (several for a chunked payload), to send again if the session moves before it ran."""
    on_stdout: TextCallback | None = None
    on_stderr: TextCallback | None = None
    on_display: DisplayCallback | None = None
    on_input: InputCallback | None = None
    sent: bool = False
    """Whether they were written to a connection (not just queued for the next)."""


@dataclass
class _Outgoing:
    text: str
    owner: _Pending | None = field(default=None)


class _Open:
    """The marker of a session this client is not done with."""


_OPEN = _Open()


class AsyncSession:
    """A persistent Python session on a wasm-repl server.

    Open one with :meth:`open` (a new session) or :meth:`attach` (an existing one of yours); use
    it as ``async with`` to close it at the end. Every request (``execute``, ``set_vars``,
    ``add_context``, ``reset``, ...) resolves with the :class:`ExecuteResult` the server answers,
    a Python error in the cell included (``result.error``); a request the server refuses raises
    the :class:`WasmReplError` of its code.

    Events (``on(name, callback)``): ``frame`` (every server frame, after de-duplication),
    ``reconnecting`` (attempt), ``reconnected``, ``moving`` (its server drains; this client
    follows), ``restored`` (execution count: the session came back from a checkpoint),
    ``evicted`` (reason), ``closed`` (the error, or None for a clean end).
    """

    def __init__(self, url: str, token: str, *, reconnect: bool = True, max_reconnect_attempts: int = 10, tools: Mapping[str, ToolEntry] | None = None) -> None:
        """Use :meth:`open` or :meth:`attach`."""
        self.id = ""
        self.last_seq = 0
        """The newest seq received; reconnects ask for what follows it."""
        self.limits: SessionLimits | None = None
        self._url = http_base(url)
        self._ws_url = ws_base(url)
        self._token = token
        self._reconnect = reconnect
        self._max_reconnect_attempts = max_reconnect_attempts
        self._socket: WebSocketClientProtocol | None = None
        self._pending: dict[str, _Pending] = {}
        self._outbox: list[_Outgoing] = []
        # The session moved (a draining server): the next connection's history starts again, as expected.
        self._moved = False
        # Why this client is done with the session: _OPEN while it is not, None for a clean end.
        self._ended: WasmReplError | None | _Open = _OPEN
        self._closing = False
        self._close_waiter: asyncio.Future[None] | None = None
        self._auth_waiters: list[asyncio.Future[None]] = []
        self._listeners: dict[str, list[Listener]] = {}
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._files: AsyncSessionFiles | None = None
        self._reconnecting: asyncio.Future[Any] | None = None
        # The tools this client answers, by name: (function, description).
        self._tools: dict[str, tuple[Tool, str | None]] = {}
        for name, entry in (tools or {}).items():
            self._add_tool(name, entry)
        # What to do with each server frame, by its type: a new frame type is one more entry.
        self._handlers: dict[str, Callable[[Frame], None]] = {
            "stream": self._on_stream,
            "display": self._on_display,
            "clear_output": self._on_display,
            "input_request": self._on_input_request,
            "tool_call": self._on_tool_call,
            "result": self._on_result,
            "error": self._on_error,
            "evicted": self._on_evicted,
            "authenticated": self._on_authenticated,
        }

    # ---- opening ----

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        token: str | None = None,
        env: Mapping[str, str] | None = None,
        rlm_call_text: bool = False,
        tools: Mapping[str, ToolEntry] | None = None,
        reconnect: bool = True,
        max_reconnect_attempts: int = 10,
    ) -> AsyncSession:
        """Opens a new session. ``url`` defaults to ``WASM_REPL_URL``, else http://127.0.0.1:8000;
        ``token`` to ``WASM_REPL_TOKEN``, else a loopback development server's own. ``env``: the
        interpreter's environment variables (``os.environ``) for the session's life; they travel
        in a request's body (``POST /v1/sessions``), never in a URL. ``rlm_call_text``: results'
        ``rlm_calls`` carry each model call's prompt and response. ``tools``: functions Python in
        the session calls by name (see :meth:`register_tool`)."""
        url = default_url(url)
        session = cls(url, await resolve_token(url, token), reconnect=reconnect, max_reconnect_attempts=max_reconnect_attempts, tools=tools)
        if env is not None or rlm_call_text:
            body: dict[str, Any] = {"env": dict(env or {})}
            if rlm_call_text:
                body["rlm_call_text"] = True
            opened = await http_json(f"{session._url}/v1/sessions", "POST", token=session._token, payload=body)
            session.id = str(opened["session_id"])
        await session._connect(None)
        return session

    @classmethod
    async def attach(
        cls,
        url: str | None,
        session_id: str,
        *,
        token: str | None = None,
        since: int | None = None,
        tools: Mapping[str, ToolEntry] | None = None,
        reconnect: bool = True,
        max_reconnect_attempts: int = 10,
    ) -> AsyncSession:
        """Attaches to an existing session of the caller's; with ``since``, every frame after that seq is replayed."""
        url = default_url(url)
        session = cls(url, await resolve_token(url, token), reconnect=reconnect, max_reconnect_attempts=max_reconnect_attempts, tools=tools)
        session.id = session_id
        session.last_seq = since or 0
        await session._connect(since)
        return session

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        try:
            await self.close()
        except WasmReplError:
            if error is None:
                raise  # else the error that ended the block matters more

    # ---- requests ----

    async def execute(
        self,
        code: str,
        *,
        timeout: float | None = None,
        locals: LocalsMode | None = None,
        on_stdout: TextCallback | None = None,
        on_stderr: TextCallback | None = None,
        on_display: DisplayCallback | None = None,
        on_input: InputCallback | None = None,
        id: str | None = None,
    ) -> ExecuteResult:
        """Runs code; returns its result whether the Python succeeded or not.

        ``timeout`` is the cell's, in seconds (the server's default and cap apply); ``locals``
        which variables the result summarises (``"all"``, ``"changed"``, ``"none"``). The
        callbacks get output while the cell runs (they may be coroutine functions); ``on_input``
        answers ``input()``. Cancelling the call interrupts the cell (or cancels it while queued).
        """
        cell_id = id or _next_id("cell")
        frame: dict[str, Any] = {"type": "execute", "id": cell_id, "code": code}
        if timeout is not None:
            frame["timeout"] = timeout
        if locals is not None:
            frame["locals"] = locals
        handlers = {"on_stdout": on_stdout, "on_stderr": on_stderr, "on_display": on_display, "on_input": on_input}
        return await self._request(cell_id, [encode(frame)], handlers, interrupt_on_cancel=True)

    async def interrupt(self, id: str | None = None) -> None:
        """Interrupts the running cell, or cancels a queued one by id. Without an id it is not held
        for a reconnect: by then a different cell may be running."""
        if id is None and self._socket is None:
            return
        await self._send({"type": "interrupt"} if id is None else {"type": "interrupt", "id": id})

    async def set_vars(self, variables: Mapping[str, Any]) -> ExecuteResult:
        """Makes JSON values Python variables."""
        request_id = _next_id("vars")
        return await self._request(request_id, [encode({"type": "set_vars", "id": request_id, "vars": dict(variables)})])

    async def add_context(self, payload: Any, index: int | None = None, *, history: bool = False) -> ExecuteResult:
        """Makes a payload the Python variable ``context_<index>`` (with ``history``:
        ``history_<index>``), ``context`` naming index 0; the index defaults to the next free one.
        A string stays a str; anything else arrives as the JSON value. Payloads too large for one
        frame go in chunks."""
        kind = "add_history" if history else "add_context"
        request_id = _next_id(kind)
        max_frame_bytes = self.limits.max_frame_bytes if self.limits else 16 * 1024 * 1024
        return await self._request(request_id, payload_frames(kind, request_id, payload, index, max_frame_bytes))

    async def add_history(self, messages: Any, index: int | None = None) -> ExecuteResult:
        """``history_<index>`` (``history`` naming index 0): the RLM library's message histories."""
        return await self.add_context(messages, index, history=True)

    async def install(self, wheel: bytes, filename: str) -> ExecuteResult:
        """Installs a pure-Python wheel (``...-none-any.whl``); its result's error says why one was refused."""
        request_id = _next_id("install")
        frame = {"type": "install", "id": request_id, "filename": filename, "wheel": base64.b64encode(wheel).decode("ascii")}
        return await self._request(request_id, [encode(frame)])

    async def reset(self) -> ExecuteResult:
        """A fresh interpreter: every variable is dropped."""
        request_id = _next_id("reset")
        return await self._request(request_id, [encode({"type": "reset", "id": request_id})])

    async def register_tool(self, name: str, tool: Tool, description: str | None = None) -> ExecuteResult:
        """Makes ``tool`` callable from Python in the session as ``name(...)`` and
        ``tools.name(...)``: the cell waits while it runs here. Every connection of this client
        declares its tools again (a session that moved knows them only from its snapshot)."""
        self._add_tool(name, {"tool": tool, "description": description})
        return await self._declare_tools()

    async def unregister_tool(self, name: str) -> ExecuteResult:
        """Python can no longer call the tool ``name``."""
        self._tools.pop(name, None)
        return await self._declare_tools()

    def _add_tool(self, name: str, entry: ToolEntry) -> None:
        tool, description = (entry.get("tool"), entry.get("description")) if isinstance(entry, Mapping) else (entry, None)
        if not isinstance(name, str) or not _TOOL_NAME.match(name) or name in RESERVED_TOOL_NAMES:
            raise BadRequest("bad_request", f"a tool's name must be a Python identifier of at most 64 characters, not starting with _ and not one of the session's own names ({', '.join(sorted(RESERVED_TOOL_NAMES))}); got {name!r}")
        if not callable(tool):
            raise BadRequest("bad_request", f"tool {name} is not a function")
        if description is not None and (not isinstance(description, str) or len(description) > MAX_TOOL_DESCRIPTION):
            raise BadRequest("bad_request", f"tool {name}'s description must be a string of at most {MAX_TOOL_DESCRIPTION} characters")
        if name not in self._tools and len(self._tools) >= MAX_TOOLS:
            raise BadRequest("bad_request", f"a session takes at most {MAX_TOOLS} tools")
        self._tools[name] = (tool, description)

    def _tools_frame(self, request_id: str) -> str:
        specs = [{"name": name, **({} if description is None else {"description": description})} for name, (_, description) in self._tools.items()]
        return encode({"type": "set_tools", "id": request_id, "tools": specs})

    async def _declare_tools(self) -> ExecuteResult:
        request_id = _next_id("tools")
        return await self._request(request_id, [self._tools_frame(request_id)])

    async def refresh_token(self, token: str) -> None:
        """Hands the server a fresh token before the current one expires (the connection closes at
        its token's expiry, code 4001). Once the server took it, reconnects and file requests use
        it too; a token it refuses raises its error (``Unauthorized``, ``Forbidden``)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._auth_waiters.append(waiter)
        await self._send({"type": "auth", "token": token})
        await waiter
        self._token = token  # once the server took it: a refused token leaves the one that works

    # ---- files ----

    @property
    def files(self) -> AsyncSessionFiles:
        if self._files is None:
            self._files = AsyncSessionFiles(self._url, self.id, lambda: self._token)
        return self._files

    async def upload_file(self, path: str, content: bytes | str) -> None:
        """Writes a file into the session's working directory (/home/pyodide), where Python opens it; text as UTF-8."""
        await self.files.upload(path, content)

    async def download_file(self, path: str) -> bytes:
        """Reads a file of the session's working directory, such as one its Python wrote."""
        return await self.files.download(path)

    async def list_files(self) -> FileListing:
        return await self.files.list()

    async def delete_file(self, path: str) -> None:
        await self.files.delete(path)

    # ---- ending ----

    async def close(self) -> None:
        """Ends the session on the server."""
        if self._ended is not _OPEN:
            return
        self._closing = True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._close_waiter = waiter
        await self._send({"type": "close"})
        try:
            await waiter
        finally:
            self._close_waiter = None
        await self._settle()

    async def disconnect(self) -> None:
        """Drops this client's connection without ending the session (it can be attached again)."""
        self._finish(None)
        await self._settle()

    async def _settle(self) -> None:
        """Once done with the session: lets the socket's closing and the reader end (a few seconds at most)."""
        current = asyncio.current_task()
        rest = [task for task in self._tasks if task is not current]
        if rest:
            await asyncio.wait(rest, timeout=5)

    @property
    def closed(self) -> bool:
        """This client is done with the session (closed, evicted, disconnected or unable to reconnect)."""
        return self._ended is not _OPEN

    @property
    def connection(self) -> WebSocketClientProtocol | None:
        """For tests and tools: the underlying socket, to simulate network trouble."""
        return self._socket

    # ---- events ----

    def on(self, event: str, listener: Listener) -> Callable[[], None]:
        """Calls ``listener`` on each ``event``; returns a function that stops it."""
        listeners = self._listeners.setdefault(event, [])
        listeners.append(listener)
        return lambda: listeners.remove(listener) if listener in listeners else None

    def _emit(self, event: str, *args: Any) -> None:
        for listener in list(self._listeners.get(event, ())):
            self._call(listener, *args)

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        """Calls a user's callback; its failure is logged, never taken into the session's own work."""
        try:
            outcome = callback(*args)
            if inspect.isawaitable(outcome):
                self._spawn(_logged(outcome))
        except Exception:
            log.exception("a wasm-repl callback failed")

    def _spawn(self, work: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- sending ----

    async def _request(
        self,
        request_id: str,
        frames: list[str],
        handlers: Mapping[str, Any] | None = None,
        *,
        interrupt_on_cancel: bool = False,
    ) -> ExecuteResult:
        ended = self._ended
        if not isinstance(ended, _Open):
            raise ended or SessionExpired("session_expired", "this client has disconnected from the session")
        if request_id in self._pending:
            raise BadRequest("bad_request", f'a cell with id "{request_id}" is already pending; use a new id')
        future: asyncio.Future[ExecuteResult] = asyncio.get_running_loop().create_future()
        pending = _Pending(future, frames, **(handlers or {}))
        self._pending[request_id] = pending
        try:
            await self._transmit(pending)
            return await future
        except asyncio.CancelledError:
            # The caller gave up on it: as the TypeScript SDK's abort signal, that interrupts the cell.
            if self._pending.get(request_id) is pending:
                del self._pending[request_id]
            if interrupt_on_cancel and self._ended is _OPEN:
                self._spawn(self.interrupt(request_id))
            raise

    async def _send(self, frame: Mapping[str, Any]) -> None:
        await self._send_text(encode(frame))

    async def _send_text(self, text: str) -> None:
        async with self._send_lock:
            socket = self._socket
            if socket is not None:
                try:
                    await socket.send(text)
                    return
                except ConnectionClosed:
                    pass
            if self._ended is _OPEN:
                self._outbox.append(_Outgoing(text))  # sent once reconnected

    async def _transmit(self, pending: _Pending) -> None:
        """Writes a request's frames now, or queues them for the next connection."""
        async with self._send_lock:
            socket = self._socket
            if socket is not None:
                try:
                    for text in pending.frames:
                        await socket.send(text)
                    pending.sent = True
                    return
                except ConnectionClosed:
                    # The connection went before the last frame: an upload left unfinished is
                    # dropped with it on the server, so the whole request goes again.
                    pass
            pending.sent = False
            self._outbox.extend(_Outgoing(text, pending) for text in pending.frames)

    def _send_again_later(self, pending: _Pending) -> None:
        """The server did not run the request (it was draining): it goes again once the session is reached elsewhere."""
        if not pending.sent:
            return
        pending.sent = False
        self._outbox.extend(_Outgoing(text, pending) for text in pending.frames)

    # ---- connecting ----

    def _target(self, since: int | None) -> str:
        path = f"/v1/sessions/{urllib.parse.quote(self.id, safe='')}" if self.id else "/v1/sessions"
        return f"{self._ws_url}{path}" + ("" if since is None else f"?since={since}")

    async def _connect(self, since: int | None) -> None:
        """One connection attempt; returns once the ``session`` frame has arrived."""
        target = self._target(since)
        try:
            socket = await connect(
                target,
                create_protocol=_Protocol,  # type: ignore[arg-type]
                subprotocols=[PROTOCOL],  # type: ignore[list-item]
                extra_headers={"Authorization": f"Bearer {self._token}"},
                max_size=MAX_FRAME_BYTES,
                compression=None,
                open_timeout=CONNECT_TIMEOUT_S,
            )
        except WasmReplError:
            raise
        except asyncio.TimeoutError as late:
            raise Timeout("internal", f"{self._ws_url} did not open a connection within {CONNECT_TIMEOUT_S:g} s") from late
        except (OSError, InvalidHandshake, InvalidMessage) as failed:
            raise ConnectionFailed("internal", f"cannot connect to {self._ws_url}: {failed}") from failed
        try:
            welcome = await asyncio.wait_for(self._welcome_frame(socket), CONNECT_TIMEOUT_S)
        except asyncio.TimeoutError as late:
            await socket.close()
            raise Timeout("internal", f"{self._ws_url} sent no session frame within {CONNECT_TIMEOUT_S:g} s") from late
        except ConnectionClosed as closed:
            raise ConnectionFailed("internal", f"the connection closed before the session answered ({closed.code} {closed.reason})") from None
        if self._ended is not _OPEN:
            await socket.close()  # the client was done with the session while this one opened
            return
        async with self._send_lock:
            self._socket = socket
            self._welcome(welcome, since)
            queued, self._outbox = self._outbox, []
            if self._tools:
                # First, so that the cells below find them; its result answers no request of the caller's.
                queued.insert(0, _Outgoing(self._tools_frame(_next_id("tools"))))
            for item in queued:
                try:
                    await socket.send(item.text)
                except ConnectionClosed:
                    self._outbox.append(item)  # to the next connection, in order
                    continue
                if item.owner is not None:
                    item.owner.sent = True
        self._spawn(self._read(socket))

    async def _welcome_frame(self, socket: WebSocketClientProtocol) -> Frame:
        while True:
            frame = _parse(await socket.recv())
            if frame is not None and frame.get("type") == "session":
                return frame

    def _welcome(self, frame: Frame, since: int | None) -> None:
        self.id = str(frame["session_id"])
        self.limits = SessionLimits.from_frame(frame.get("limits") or {})
        last_seq = int(frame.get("last_seq", 0))
        # Without `since` nothing is replayed: the history starts now for this client. A server
        # whose history is behind `since` restarted it (the session moved): follow it.
        if since is None or last_seq < since:
            self.last_seq = last_seq
        restored = frame.get("restored_from_checkpoint")
        if isinstance(restored, dict):
            self._emit("restored", int(restored.get("execution_count", 0)))

    async def _read(self, socket: WebSocketClientProtocol) -> None:
        try:
            async for message in socket:
                frame = _parse(message)
                if frame is not None:
                    self._receive(frame)
        except ConnectionClosed:
            pass
        finally:
            if self._socket is socket:
                self._socket = None
                if self._ended is _OPEN:
                    self._reconnecting = self._spawn(self._reconnect_after(socket.close_code, socket.close_reason))

    def _receive(self, frame: Frame) -> None:
        seq = frame.get("seq")
        if isinstance(seq, int):
            if seq <= self.last_seq:
                return  # already seen before a reconnect
            self.last_seq = seq
        self._emit("frame", frame)
        handler = self._handlers.get(str(frame.get("type")))
        if handler is not None:
            handler(frame)

    # ---- server frames ----

    def _on_stream(self, frame: Frame) -> None:
        pending = self._pending.get(str(frame.get("id")))
        callback = None if pending is None else pending.on_stdout if frame.get("name") == "stdout" else pending.on_stderr
        if callback is not None:
            self._call(callback, str(frame.get("text", "")))

    def _on_display(self, frame: Frame) -> None:
        pending = self._pending.get(str(frame.get("id")))
        if pending is not None and pending.on_display is not None:
            self._call(pending.on_display, frame)

    def _on_input_request(self, frame: Frame) -> None:
        pending = self._pending.get(str(frame.get("id")))
        if pending is None or pending.on_input is None:
            return
        self._spawn(self._answer_input(pending.on_input, frame))

    async def _answer_input(self, on_input: InputCallback, frame: Frame) -> None:
        try:
            value = on_input(str(frame.get("prompt", "")), bool(frame.get("password", False)))
            if inspect.isawaitable(value):
                value = await value
        except Exception:
            # A callback that fails answers nothing: the cell goes on waiting, as with no callback.
            log.exception("a wasm-repl on_input callback failed")
            return
        await self._send({"type": "input_reply", "id": frame["id"], "value": str(value)})

    def _on_tool_call(self, frame: Frame) -> None:
        entry = self._tools.get(str(frame.get("name")))
        if entry is not None:  # a tool this client lacks is left to the client that has it
            self._spawn(self._answer_tool(entry[0], frame))

    async def _answer_tool(self, tool: Tool, frame: Frame) -> None:
        raw_args, raw_kwargs = frame.get("args"), frame.get("kwargs")
        args: list[Any] = raw_args if isinstance(raw_args, list) else []
        kwargs: dict[str, Any] = raw_kwargs if isinstance(raw_kwargs, dict) else {}
        answer: dict[str, Any]
        try:
            if inspect.iscoroutinefunction(tool):
                value = await tool(*args, **kwargs)
            else:
                value = await asyncio.get_running_loop().run_in_executor(None, functools.partial(tool, *args, **kwargs))
                if inspect.isawaitable(value):
                    value = await value
            answer = {"value": value}
        except Exception as failed:
            answer = {"error": str(failed) or type(failed).__name__}
        call_id = frame.get("call_id")
        try:
            text = encode({"type": "tool_result", "call_id": call_id, **answer})
        except (TypeError, ValueError) as failed:
            text = encode({"type": "tool_result", "call_id": call_id, "error": f"the tool's value is not JSON: {failed}"})
        limit = self.limits.max_frame_bytes if self.limits is not None else MAX_FRAME_BYTES
        if len(text.encode("utf-8")) > limit:
            text = encode({"type": "tool_result", "call_id": call_id, "error": f"the tool's value is over the session's {limit}-byte frame limit"})
        await self._send_text(text)

    def _on_result(self, frame: Frame) -> None:
        pending = self._pending.pop(str(frame.get("id")), None)
        if pending is not None and not pending.future.done():
            pending.future.set_result(ExecuteResult.from_frame(frame))

    def _on_error(self, frame: Frame) -> None:
        code, message = str(frame.get("code", "internal")), str(frame.get("message", ""))
        if code == "replay_gap":
            # After a move the history starts again by design: nothing pending was lost (see evicted).
            if self._moved:
                self._moved = False
                return
            self._lost_frames(message)
            return
        request_id = frame.get("id")
        pending = self._pending.get(str(request_id)) if request_id is not None else None
        if pending is not None and code == "server_draining":
            self._send_again_later(pending)
        elif pending is not None:
            del self._pending[str(request_id)]
            if not pending.future.done():
                pending.future.set_exception(error_for(code, message))
        elif request_id is None and self._auth_waiters and code in ("unauthorized", "forbidden"):
            waiter = self._auth_waiters.pop(0)
            if not waiter.done():
                waiter.set_exception(error_for(code, message))
        elif self._closing and code == "forbidden":
            # The server refused the client's close (the token may not end sessions).
            self._closing = False
            if self._close_waiter is not None and not self._close_waiter.done():
                self._close_waiter.set_exception(Forbidden(code, message))

    def _on_evicted(self, frame: Frame) -> None:
        reason = str(frame.get("reason", ""))
        # The client's own close ends the session without an error.
        if self._closing and reason == "closed":
            self._finish(None)
            return
        if frame.get("resumable"):
            # Every request the draining server received was answered before this frame (a result,
            # or server_draining): whatever is still pending never reached it, and goes again.
            self._moved = True
            for pending in self._pending.values():
                self._send_again_later(pending)
            self._emit("moving")
            return
        self._emit("evicted", reason)
        self._finish(SessionExpired("session_expired", f"the session was evicted ({reason})"))

    def _on_authenticated(self, frame: Frame) -> None:
        if self._auth_waiters:
            waiter = self._auth_waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)

    def _lost_frames(self, message: str) -> None:
        """Frames were lost while disconnected: a pending request's result may be among them."""
        pending, self._pending = self._pending, {}
        for item in pending.values():
            if not item.future.done():
                item.future.set_exception(ReplayGap("replay_gap", message))

    # ---- reconnecting and ending ----

    async def _reconnect_delay(self, attempt: int) -> None:
        """Before each attempt: delays doubling from 100 ms up to 5 s."""
        await asyncio.sleep(min(5.0, 0.1 * 2 ** (attempt - 1)))

    async def _reconnect_after(self, code: int | None, reason: str | None) -> None:
        closed = f"{code} {reason or ''}".strip()
        if not self._reconnect:
            self._finish(ConnectionFailed("internal", f"the connection closed ({closed})"))
            return
        attempts = self._max_reconnect_attempts
        for attempt in range(1, attempts + 1):
            if self._ended is not _OPEN:
                return
            self._emit("reconnecting", attempt)
            await self._reconnect_delay(attempt)
            if self._ended is not _OPEN:
                return
            try:
                await self._connect(self.last_seq)
            except WasmReplError as refused:
                if refused.code in GONE:
                    self._finish(refused)
                    return
                continue
            except Exception:
                log.exception("reconnecting to wasm-repl failed unexpectedly")
                continue
            self._emit("reconnected")
            return
        self._finish(ConnectionFailed("internal", f"could not reconnect after {attempts} attempts (the connection closed with {closed})"))

    def _finish(self, error: WasmReplError | None) -> None:
        if self._ended is not _OPEN:
            return
        self._ended = error
        if self._reconnecting is not None and self._reconnecting is not asyncio.current_task():
            self._reconnecting.cancel()  # waiting between attempts: there is nothing to reconnect for
        socket, self._socket = self._socket, None
        if socket is not None:
            self._spawn(socket.close())
        reason = error or SessionExpired("session_expired", "this client disconnected from the session")
        pending, self._pending = self._pending, {}
        for item in pending.values():
            if not item.future.done():
                item.future.set_exception(reason)
        for waiter in self._auth_waiters:
            if not waiter.done():
                waiter.set_exception(reason)
        self._auth_waiters.clear()
        if self._close_waiter is not None and not self._close_waiter.done():
            self._close_waiter.set_result(None)
        self._emit("closed", error)


def _parse(message: str | bytes) -> Frame | None:
    if isinstance(message, bytes):
        return None  # the protocol's frames are text
    try:
        frame = json.loads(message)
    except ValueError:
        return None  # not a frame of this protocol; nothing to act on
    return frame if isinstance(frame, dict) else None


async def _logged(work: Awaitable[Any]) -> None:
    try:
        await work
    except Exception:
        log.exception("a wasm-repl callback failed")
