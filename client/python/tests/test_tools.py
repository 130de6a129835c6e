"""Tools: Python in the session calls functions of this client's (sync ones in a worker thread,
coroutine functions awaited); errors, the cell's deadline and an interrupt while a call waits."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from conftest import in_session, requires_server, run

from wasm_repl import AsyncSession, BadRequest, Session, WASMREPLEnv

pytestmark = requires_server


def test_python_calls_plain_and_async_tools_with_positional_and_keyword_arguments() -> None:
    seen: list[Any] = []

    def search(query: str, limit: int = 1) -> list[dict[str, str]]:
        seen.append((query, limit, threading.current_thread() is threading.main_thread()))
        return [{"hit": f"{query}-{index}"} for index in range(limit)]

    async def add(a: float, b: float) -> float:
        await asyncio.sleep(0)
        return a + b

    async def body() -> None:
        tools = {"search": search, "add": {"tool": add, "description": "Adds two numbers."}}
        async with await AsyncSession.open(tools=tools) as session:
            result = await session.execute("(search('cats'), tools.search('dogs', limit=2), add(2, 3.5), add.__doc__)")
            assert result.error is None, result.error
            assert result.value == "([{'hit': 'cats-0'}], [{'hit': 'dogs-0'}, {'hit': 'dogs-1'}], 5.5, 'Adds two numbers.')"

    run(body)
    # A plain function ran off the event loop's thread (in a worker), so slow ones hold nothing up.
    assert [(query, limit) for query, limit, _ in seen] == [("cats", 1), ("dogs", 2)]


@in_session
async def test_a_tool_that_raises_is_a_tool_error_with_its_message(session: AsyncSession) -> None:
    def broken() -> None:
        raise RuntimeError("the index is down")

    assert (await session.register_tool("broken", broken)).success
    result = await session.execute("try:\n    broken()\nexcept ToolError as error:\n    caught = str(error)\ncaught")
    assert result.value == "'the index is down'"
    with pytest.raises(BadRequest, match="Python identifier"):
        await session.register_tool("llm_query", broken)


@in_session
async def test_a_cell_waiting_on_a_tool_ends_with_its_deadline_or_an_interrupt(session: AsyncSession) -> None:
    called = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> str:
        called.set()
        await release.wait()
        return "late"

    await session.register_tool("slow", slow)
    timed_out = await session.execute("slow()", timeout=1)
    assert timed_out.error is not None and timed_out.error.type in ("TimeoutError", "KeyboardInterrupt")
    called.clear()
    waiting = asyncio.ensure_future(session.execute("n = 1\nslow()"))
    await called.wait()
    await session.interrupt()
    interrupted = await waiting
    assert interrupted.error is not None and interrupted.error.type == "KeyboardInterrupt"
    release.set()  # the late answers are dropped by the server
    assert (await session.execute("n + 1")).value == "2"


def test_the_blocking_session_answers_tools_too() -> None:
    with Session.open(tools={"upper": lambda text: text.upper()}) as session:
        assert session.execute("upper('shout')").value == "'SHOUT'"
        assert session.register_tool("count", lambda *items: len(items)).success
        assert session.execute("count(1, 2, 3)").value == "3"
        assert session.unregister_tool("count").success
        assert session.execute("count()").error.type == "NameError"  # type: ignore[union-attr]


def test_the_guide_environment_takes_tools() -> None:
    async def body() -> None:
        environment = WASMREPLEnv(timeout=30, tools={"lookup": lambda key: {"k": key}})
        await environment.initialize()
        try:
            result = await environment.code_execution("found = lookup('x')\nprint(found['k'])")
            assert result.stdout == "x\n", result.error
        finally:
            await environment.cleanup()

    run(body)
