"""AsyncSession against a real server: cells, streaming, interrupts, reconnects, payloads, files, errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from conftest import TOKEN, URL, hold_key, in_session, release, requires_server, run, session_summary

import wasm_repl
from wasm_repl import AsyncSession

pytestmark = requires_server


def first_call() -> tuple[asyncio.Future[None], Any]:
    """A future set by the first call of the callback returned beside it (which records its arguments)."""
    seen = asyncio.get_running_loop().create_future()
    calls: list[Any] = []

    def callback(*args: Any) -> None:
        calls.append(args[0] if len(args) == 1 else args)
        if not seen.done():
            seen.set_result(None)

    callback.calls = calls  # type: ignore[attr-defined]
    return seen, callback


@in_session
async def test_variables_functions_and_imports_persist_across_cells(session: AsyncSession) -> None:
    assert session.id and session.limits is not None
    first = await session.execute("import math\nr = 2\ndef area(x):\n    return math.pi * x ** 2")
    assert first.success and first.error is None
    result = await session.execute("print('area')\narea(r)")
    assert result.stdout == "area\n"
    assert result.value == "12.566370614359172"
    assert result.execution_count == first.execution_count + 1
    assert result.locals is not None and result.locals["r"] == 2
    assert result.state_preserved and result.truncated == [] and result.output_dropped_bytes == 0
    assert result.data == {"text/plain": "12.566370614359172"}


@in_session
async def test_a_python_error_is_the_results_not_an_exception(session: AsyncSession) -> None:
    result = await session.execute("x = 1\n1 / 0")
    assert not result.success
    assert result.error is not None and result.error.type == "ZeroDivisionError"
    assert "division by zero" in result.error.message and "ZeroDivisionError" in result.error.traceback
    assert (await session.execute("x")).value == "1", "the session goes on"
    late = await session.execute("while True:\n    pass", timeout=1)
    assert late.error is not None and late.error.type == "TimeoutError"


@in_session
async def test_output_streams_to_the_callbacks_before_the_result(session: AsyncSession) -> None:
    seen, on_stdout = first_call()
    errors: list[str] = []
    key = hold_key("stream")
    cell = asyncio.ensure_future(
        session.execute(
            f"import sys\nprint('one', flush=True)\nprint('warn', file=sys.stderr, flush=True)\nllm_query('hold:{key}')\nprint('two')",
            on_stdout=on_stdout,
            on_stderr=errors.append,
        )
    )
    await seen
    assert on_stdout.calls == ["one\n"]
    assert not cell.done(), "the first chunk came while the cell still ran"
    await asyncio.to_thread(release, key)
    result = await cell
    assert "".join(on_stdout.calls) == result.stdout == "one\ntwo\n"
    assert "".join(errors) == result.stderr == "warn\n"


@in_session
async def test_display_and_input_callbacks(session: AsyncSession) -> None:
    shown: list[dict[str, Any]] = []
    prompts: list[tuple[str, bool]] = []

    async def answer(prompt: str, password: bool) -> str:
        prompts.append((prompt, password))
        return "Ada"

    code = "class Card:\n    def _repr_html_(self): return '<b>card</b>'\ndisplay(Card())\nname = input('name? ')\nname"
    result = await session.execute(code, on_display=shown.append, on_input=answer)
    assert result.value == "'Ada'"
    assert prompts == [("name? ", False)]
    assert shown[0]["type"] == "display" and shown[0]["data"]["text/html"] == "<b>card</b>"


@in_session
async def test_interrupt_ends_a_long_cell_and_the_session_goes_on(session: AsyncSession) -> None:
    await session.execute("kept = 'yes'")
    seen, on_stdout = first_call()
    cell = asyncio.ensure_future(session.execute("import time\nprint('started', flush=True)\nwhile True:\n    time.sleep(0.05)", on_stdout=on_stdout))
    await seen
    await session.interrupt()
    result = await cell
    assert not result.success and result.error is not None and result.error.type == "KeyboardInterrupt"
    assert result.state_preserved
    assert (await session.execute("kept")).value == "'yes'"


@in_session
async def test_cancelling_execute_interrupts_its_cell(session: AsyncSession) -> None:
    seen, on_stdout = first_call()
    cell = asyncio.ensure_future(session.execute("import time\nprint('started', flush=True)\nwhile True:\n    time.sleep(0.05)", on_stdout=on_stdout))
    await seen
    cell.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cell
    # Runs only once the cancelled cell was interrupted: cells run one at a time.
    assert (await session.execute("'next'")).value == "'next'"


@in_session
async def test_a_result_that_arrives_while_disconnected_is_replayed_after_the_reconnect(session: AsyncSession) -> None:
    gate = asyncio.Event()

    async def reconnect_when_told(attempt: int) -> None:
        await gate.wait()

    session._reconnect_delay = reconnect_when_told  # type: ignore[method-assign]
    events: list[str] = []
    session.on("reconnecting", lambda attempt: events.append(f"reconnecting {attempt}"))
    session.on("reconnected", lambda: events.append("reconnected"))
    seen, on_stdout = first_call()
    key = hold_key("replay")
    cell = asyncio.ensure_future(session.execute(f"print('before', flush=True)\nprint(llm_query('hold:{key}'))", on_stdout=on_stdout))
    await seen
    since = session.last_seq
    assert session.connection is not None
    session.connection.transport.abort()  # the network fails: no close frame
    await asyncio.to_thread(release, key)
    # The cell ends on the server while this client is away; its frames wait there.
    while (await asyncio.to_thread(session_summary, session.id))["running"]:
        await asyncio.sleep(0.05)
    assert not cell.done()
    gate.set()
    result = await cell
    assert result.stdout == f"before\nreleased {key}\n"
    assert "".join(on_stdout.calls) == result.stdout, "each chunk once, none lost"
    assert events == ["reconnecting 1", "reconnected"]
    assert session.last_seq > since
    assert (await session.execute("'still here'")).value == "'still here'"


@in_session
async def test_requests_sent_while_disconnected_go_once_reconnected(session: AsyncSession) -> None:
    assert session.connection is not None
    session.connection.transport.abort()
    result = await session.execute("'sent while offline'")
    assert result.value == "'sent while offline'"


def test_attach_with_since_replays_what_was_missed() -> None:
    async def body() -> None:
        first = await AsyncSession.open()
        await first.execute("a = 1")
        since = first.last_seq
        await first.disconnect()
        runner = await AsyncSession.attach(URL, first.id)
        await runner.execute("print('while away')")
        await runner.disconnect()
        frames: list[dict[str, Any]] = []
        back = await AsyncSession.attach(None, first.id, since=since)
        back.on("frame", frames.append)
        done = asyncio.get_running_loop().create_future()
        back.on("frame", lambda frame: frame["type"] == "result" and not done.done() and done.set_result(frame))
        replayed = await done
        assert replayed["stdout"] == "while away\n"
        assert [frame["type"] for frame in frames] == ["stream", "result"]
        assert (await back.execute("a")).value == "1"
        await back.close()

    run(body)


@in_session
async def test_set_vars_add_context_add_history_and_reset(session: AsyncSession) -> None:
    assert (await session.set_vars({"numbers": [1, 2, 3], "name": "x"})).success
    assert (await session.execute("sum(numbers), name")).value == "(6, 'x')"
    assert (await session.add_context({"doc": "first"})).success
    assert (await session.add_context("second")).success
    assert (await session.execute("context['doc'], context_1")).value == "('first', 'second')"
    assert (await session.add_history([{"role": "user", "content": "hi"}])).success
    assert (await session.execute("history[0]['content']")).value == "'hi'"
    reset = await session.reset()
    assert not reset.state_preserved
    assert (await session.execute("'numbers' in globals()")).value == "False"


@in_session
async def test_a_large_context_goes_in_chunks_and_arrives_whole(session: AsyncSession) -> None:
    assert session.limits is not None
    limit = session.limits.max_frame_bytes
    text = ("line of context ✓ 😀\n" * (limit // 8))[: limit * 2]
    sent: list[str] = []
    socket = session.connection
    assert socket is not None
    original = socket.send

    async def recording(message: Any) -> None:
        sent.append(message)
        await original(message)

    socket.send = recording  # type: ignore[method-assign]
    assert (await session.add_context(text, 3)).success
    assert len(sent) > 1 and all(len(frame.encode()) <= limit for frame in sent)
    assert [json.loads(frame).get("more", False) for frame in sent][-1] is False
    check = await session.execute("len(context_3), context_3[-40:], context_3.count('😀')", locals="none")
    assert check.value == repr((len(text), text[-40:], text.count("😀")))
    structured = {"rows": [{"n": n, "text": "ü" * 50} for n in range(limit // 40)]}
    assert (await session.add_context(structured, 4)).success
    assert (await session.execute("len(context_4['rows']), context_4['rows'][-1]['n']", locals="none")).value == repr((len(structured["rows"]), len(structured["rows"]) - 1))


@in_session
async def test_files_up_and_down(session: AsyncSession) -> None:
    await session.upload_file("data/input.csv", "a,b\n1,2\n")
    await session.upload_file("raw.bin", bytes(range(256)))
    result = await session.execute("import csv\nrows = list(csv.reader(open('data/input.csv')))\nopen('out.txt', 'w').write('written')\nrows")
    assert result.value == "[['a', 'b'], ['1', '2']]"
    assert await session.download_file("out.txt") == b"written"
    assert await session.download_file("raw.bin") == bytes(range(256))
    listing = await session.list_files()
    assert {(item.path, item.size) for item in listing.files} == {("data/input.csv", 8), ("out.txt", 7), ("raw.bin", 256)}
    assert not listing.truncated
    await session.delete_file("out.txt")
    with pytest.raises(wasm_repl.FileNotFound) as missing:
        await session.download_file("out.txt")
    assert missing.value.code == "file_not_found" and missing.value.status == 404
    with pytest.raises(wasm_repl.BadRequest):
        await session.download_file("..")


def test_environment_variables_for_a_new_session() -> None:
    async def body() -> None:
        async with await AsyncSession.open(env={"REGION": "eu"}) as session:
            assert (await session.execute("import os\nos.environ['REGION']")).value == "'eu'"

    run(body)


def test_refused_requests_raise_typed_errors_with_their_codes() -> None:
    async def body() -> None:
        with pytest.raises(wasm_repl.Unauthorized) as bad_token:
            await AsyncSession.open(URL, token="not-a-jwt")
        assert bad_token.value.code == "unauthorized" and bad_token.value.status == 401
        assert bad_token.value.reason == "malformed_token"
        assert isinstance(bad_token.value, wasm_repl.WasmReplError)

        with pytest.raises(wasm_repl.SessionNotFound) as unknown:
            await AsyncSession.attach(URL, "no-such-session")
        assert unknown.value.code == "session_not_found" and isinstance(unknown.value, wasm_repl.NotFound)

        import os

        with pytest.raises(wasm_repl.Forbidden) as forbidden:
            await AsyncSession.open(token=os.environ["WASM_REPL_TEST_READ_ONLY_TOKEN"])
        assert forbidden.value.code == "forbidden" and forbidden.value.reason == "missing_scope"

        limited = await AsyncSession.open(token=os.environ["WASM_REPL_TEST_LIMITED_TOKEN"])
        try:
            with pytest.raises(wasm_repl.QuotaExceeded) as quota:
                await AsyncSession.open(token=os.environ["WASM_REPL_TEST_LIMITED_TOKEN"])
            assert quota.value.code == "quota_exceeded" and quota.value.status == 429
        finally:
            await limited.close()

        with pytest.raises(wasm_repl.ConnectionFailed) as unreachable:
            await AsyncSession.open("http://127.0.0.1:9", token=TOKEN, reconnect=False)
        assert unreachable.value.code == "internal"

    run(body)


def test_a_duplicate_cell_id_and_a_closed_session_raise() -> None:
    async def body() -> None:
        session = await AsyncSession.open()
        key = hold_key("dup")
        first = asyncio.ensure_future(session.execute(f"llm_query('hold:{key}')", id="same"))
        await asyncio.sleep(0)
        with pytest.raises(wasm_repl.BadRequest):
            await session.execute("1", id="same")
        await asyncio.to_thread(release, key)
        assert (await first).success
        await session.close()
        assert session.closed
        with pytest.raises(wasm_repl.SessionExpired):
            await session.execute("1")
        with pytest.raises((wasm_repl.SessionExpired, wasm_repl.SessionNotFound)):
            await AsyncSession.attach(URL, session.id, reconnect=False)

    run(body)


@in_session
async def test_refresh_token(session: AsyncSession) -> None:
    await session.refresh_token(TOKEN)
    with pytest.raises(wasm_repl.Unauthorized):
        await session.refresh_token("not-a-jwt")
    assert (await session.execute("'after'")).value == "'after'"
