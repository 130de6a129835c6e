"""The client's side of the protocol where a real server cannot be made to act on cue: a server
that drains (server_draining, evicted resumable, the session woken elsewhere), one that evicts
for good, and how payloads are cut into chunks. A scripted WebSocket server plays the server."""

from __future__ import annotations

import contextlib
import json
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
from conftest import run
from websockets.legacy.server import WebSocketServerProtocol, serve

import wasm_repl
from wasm_repl import AsyncSession
from wasm_repl.session import chunk_length, payload_frames

LIMITS = {
    "execution_timeout": 30,
    "max_execution_timeout": 300,
    "idle_timeout": 600,
    "max_queued_cells": 100,
    "max_frame_bytes": 4096,
    "max_output_bytes": 1 << 20,
    "memory_mb": 256,
    "replay_buffer_bytes": 1 << 20,
    "max_file_bytes": 1 << 24,
}


def session_frame(last_seq: int, resumed: bool) -> str:
    return json.dumps({"type": "session", "session_id": "s1", "resumed": resumed, "last_seq": last_seq, "limits": LIMITS})


def result_frame(seq: int, request_id: str, stdout: str) -> str:
    frame = {
        "type": "result", "seq": seq, "id": request_id, "success": True, "stdout": stdout, "stderr": "", "value": None, "locals": None,
        "execution_count": 1, "execution_time": 0.001, "error": None, "state_preserved": True, "output_dropped_bytes": 0,
        "final_answer": None, "truncated": [], "rlm_calls": [], "data": None,
    }  # fmt: skip
    return json.dumps(frame)


Script = Callable[[WebSocketServerProtocol, str, int], Awaitable[None]]


@contextlib.asynccontextmanager
async def scripted_server(script: Script) -> AsyncIterator[tuple[str, list[str]]]:
    """A server whose every connection runs `script(socket, path, n)` (n counts connections from
    1): its URL, and the paths its connections asked for."""
    paths: list[str] = []

    async def handler(socket: WebSocketServerProtocol, path: str) -> None:
        paths.append(path)
        await script(socket, path, len(paths))

    server = await serve(handler, "127.0.0.1", 0, subprotocols=["wasm-repl.v1"])  # type: ignore[list-item]
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", paths
    finally:
        server.close()
        await server.wait_closed()


async def next_frame(socket: WebSocketServerProtocol) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await socket.recv())
    return frame


def test_a_draining_server_hands_the_session_on_and_unrun_work_is_sent_again() -> None:
    async def script(socket: WebSocketServerProtocol, path: str, n: int) -> None:
        if n == 1:
            await socket.send(session_frame(0, resumed=False))
            cell = await next_frame(socket)
            # Drains: the queued cell is refused, then the session is saved and this client told.
            await socket.send(json.dumps({"type": "error", "seq": 1, "id": cell["id"], "code": "server_draining", "message": "draining"}))
            await socket.send(json.dumps({"type": "evicted", "seq": 2, "reason": "shutdown", "resumable": True}))
            await socket.close(1012)
            return
        # Another server wakes the session: its history starts again.
        await socket.send(session_frame(0, resumed=True))
        await socket.send(json.dumps({"type": "error", "code": "replay_gap", "message": "frames 1 to 2 are no longer buffered"}))
        cell = await next_frame(socket)
        await socket.send(result_frame(1, cell["id"], f"ran {cell['code']}\n"))
        await socket.wait_closed()

    async def body() -> None:
        async with scripted_server(script) as (url, paths):
            session = await AsyncSession.open(url, token="t")
            events: list[str] = []
            session.on("moving", lambda: events.append("moving"))
            session.on("reconnected", lambda: events.append("reconnected"))
            result = await session.execute("work", id="c1")
            assert result.stdout == "ran work\n" and result.id == "c1"
            assert events == ["moving", "reconnected"]
            assert paths == ["/v1/sessions", "/v1/sessions/s1?since=2"]
            await session.disconnect()

    run(body)


def test_an_eviction_for_good_fails_what_is_pending_and_ends_the_session() -> None:
    async def script(socket: WebSocketServerProtocol, path: str, n: int) -> None:
        await socket.send(session_frame(0, resumed=False))
        await next_frame(socket)
        await socket.send(json.dumps({"type": "evicted", "seq": 1, "reason": "idle"}))
        await socket.close(1000)

    async def body() -> None:
        async with scripted_server(script) as (url, paths):
            session = await AsyncSession.open(url, token="t")
            ended: list[Any] = []
            session.on("evicted", ended.append)
            session.on("closed", ended.append)
            with pytest.raises(wasm_repl.SessionExpired) as evicted:
                await session.execute("x")
            assert "idle" in str(evicted.value)
            assert ended[0] == "idle" and isinstance(ended[1], wasm_repl.SessionExpired)
            assert session.closed and len(paths) == 1, "no reconnect"

    run(body)


def test_lost_frames_fail_the_pending_requests_with_replay_gap() -> None:
    async def script(socket: WebSocketServerProtocol, path: str, n: int) -> None:
        if n == 1:
            await socket.send(session_frame(0, resumed=False))
            await next_frame(socket)
            await socket.send(json.dumps({"type": "stream", "seq": 1, "id": "c1", "name": "stdout", "text": "x\n"}))
            socket.transport.abort()  # the connection drops mid-cell
            return
        await socket.send(session_frame(9, resumed=True))
        await socket.send(json.dumps({"type": "error", "code": "replay_gap", "message": "frames 2 to 5 are no longer buffered"}))
        await socket.wait_closed()

    async def body() -> None:
        async with scripted_server(script) as (url, paths):
            session = await AsyncSession.open(url, token="t")
            with pytest.raises(wasm_repl.ReplayGap) as gap:
                await session.execute("x", id="c1")
            assert gap.value.code == "replay_gap"
            assert paths[1] == "/v1/sessions/s1?since=1"
            await session.disconnect()

    run(body)


def test_payload_chunks_are_cut_as_the_typescript_sdk_cuts_them() -> None:
    assert chunk_length(4096) == 1024 and chunk_length(256 * 1024) == (256 * 1024 - 1024) // 6 and chunk_length(1 << 30) == 8 * 1024 * 1024
    assert payload_frames("add_context", "i", {"a": 1}, 2, 4096) == ['{"type":"add_context","id":"i","payload":{"a":1},"index":2}']
    text = "é😀" * 1500  # astral characters count two, as in the server's (JavaScript) strings
    frames = [json.loads(frame) for frame in payload_frames("add_history", "h", text, None, 4096)]
    assert [frame["offset"] for frame in frames] == [0, 1536, 3072]
    assert [frame.get("more") for frame in frames] == [True, True, None]
    assert "".join(frame["payload"] for frame in frames) == text
    assert all(frame["type"] == "add_history" and "json" not in frame and "index" not in frame for frame in frames)
    structured = [frames for frames in payload_frames("add_context", "j", ["x" * 5000], 0, 4096)]
    decoded = [json.loads(frame) for frame in structured]
    assert all(frame["json"] is True and frame["index"] == 0 for frame in decoded)
    assert json.loads("".join(frame["payload"] for frame in decoded)) == ["x" * 5000]
