"""The blocking Session, the stateless execute() (blocking and async), and the guide's WASMREPLEnv."""

from __future__ import annotations

import _thread
import asyncio
import threading

import pytest
from conftest import URL, hold_key, release, requires_server, run

import wasm_repl
from wasm_repl import Session, WASMREPLEnv

pytestmark = requires_server


def test_the_blocking_session() -> None:
    with Session.open() as session:
        chunks: list[str] = []
        threads: set[str] = set()

        def on_stdout(text: str) -> None:
            chunks.append(text)
            threads.add(threading.current_thread().name)

        assert session.execute("import math\nr = 3").success
        result = session.execute("print('area', flush=True)\nround(math.pi * r ** 2, 2)", on_stdout=on_stdout)
        assert result.value == "28.27" and chunks == ["area\n"]
        assert threads == {"wasm-repl"}, "callbacks run on the session's own thread"
        assert session.set_vars({"n": 5}).success
        assert session.add_context("the context").success
        assert session.execute("n * 2, context").value == "(10, 'the context')"
        session.upload_file("in.txt", "file text")
        assert session.execute("open('in.txt').read()").value == "'file text'"
        assert [item.path for item in session.list_files().files] == ["in.txt"]
        assert session.download_file("in.txt") == b"file text"
        session.delete_file("in.txt")
        assert session.list_files().files == []
        session_id = session.id
    assert session.closed
    with pytest.raises(wasm_repl.SessionExpired):
        session.execute("1")
    with pytest.raises((wasm_repl.SessionExpired, wasm_repl.SessionNotFound)):
        Session.attach(URL, session_id, reconnect=False)


def test_a_blocking_interrupt_from_another_thread() -> None:
    with Session.open() as session:
        started = threading.Event()
        outcome: list[wasm_repl.ExecuteResult] = []
        key = hold_key("blocking")
        code = f"print('go', flush=True)\nllm_query('hold:{key}')"
        runner = threading.Thread(target=lambda: outcome.append(session.execute(code, on_stdout=lambda text: started.set())))
        runner.start()
        started.wait()
        session.interrupt()
        runner.join()
        assert outcome[0].error is not None and outcome[0].error.type == "KeyboardInterrupt"
        release(key)


def test_ctrl_c_in_a_blocking_execute_interrupts_its_cell() -> None:
    with Session.open() as session:
        with pytest.raises(KeyboardInterrupt):
            # As if the user pressed Ctrl-C once the cell printed.
            session.execute("import time\nprint('go', flush=True)\nwhile True:\n    time.sleep(0.05)", on_stdout=lambda text: _thread.interrupt_main())
        # Runs only once the interrupted cell has ended: cells run one at a time.
        assert session.execute("'next'").value == "'next'"


def test_a_blocking_call_from_a_callback_is_refused() -> None:
    with Session.open() as session:
        refused: list[BaseException] = []

        def on_stdout(text: str) -> None:
            try:
                session.execute("1")
            except RuntimeError as error:
                refused.append(error)

        session.execute("print('x')", on_stdout=on_stdout)
        assert len(refused) == 1 and "AsyncSession" in str(refused[0])


def test_the_guides_stateless_execute() -> None:
    answer = wasm_repl.execute('print("Hello from WASM!")\nx = 42\ny = 58\nresult = x + y', context={}, timeout=30)
    assert answer.success and answer.error is None
    assert answer.stdout == "Hello from WASM!\n"
    assert answer.locals == {"x": 42, "y": 58, "result": 100}
    assert answer.execution_time >= 0
    with_files = wasm_repl.execute("import os\nopen('outputs/n.txt', 'w').write(str(sum(numbers)) + open('in.txt').read())", context={"numbers": [1, 2, 3]}, files={"in.txt": "!"})
    assert with_files.files == {"outputs/n.txt": b"6!"} and with_files.files_omitted == []
    failed = wasm_repl.execute("1 / 0")
    assert not failed.success and failed.error is not None and "ZeroDivisionError" in failed.error
    asked = run(lambda: wasm_repl.execute_async("llm_query('stateless')"))
    assert asked.value == "'echo: stateless'" and asked.rlm_calls[0].model == "root-model"
    with pytest.raises(wasm_repl.BadRequest):
        wasm_repl.execute("1", session_id="x", env={"A": "b"})


def test_stateless_execute_in_a_persistent_session() -> None:
    with Session.open() as session:
        session.execute("kept = 'from the session'")
        assert wasm_repl.execute("kept", session_id=session.id).value == "'from the session'"


def test_stateless_execute_from_inside_a_running_loop() -> None:
    async def body() -> wasm_repl.ExecuteResponse:
        return wasm_repl.execute("'inside a loop'")  # as a notebook's cell would call it

    assert run(body).value == "'inside a loop'"


def test_the_guides_rlm_example_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    # The guide's "Integration with RLM" example, its import line changed to this package's.
    from wasm_repl import WASMREPLEnv

    async def main():
        wasm_env = WASMREPLEnv(max_depth=3, timeout=30)
        await wasm_env.initialize()

        result = await wasm_env.code_execution("x = 42")
        print(result.stdout)

        await wasm_env.cleanup()

    asyncio.run(main())
    assert capsys.readouterr().out == "\n"


def test_wasmreplenv_persists_and_reports_answers_and_errors() -> None:
    async def body() -> None:
        async with WASMREPLEnv(max_depth=3, timeout=30) as environment:
            assert environment.max_depth == 3
            first = await environment.code_execution("x = 42\nprint('hi')")
            assert first.success and first.stdout == "hi\n" and first.locals["x"] == 42 and first.error is None
            asked = await environment.code_execution("reply = llm_query('from the env')\nFINAL_VAR('reply')")
            assert asked.final_answer == "echo: from the env"
            assert [call.model for call in asked.rlm_calls] == ["root-model"]
            assert asked.execution_time > 0
            failed = await environment.code_execution("x / 0")
            assert not failed.success and failed.error is not None and "ZeroDivisionError: division by zero" in failed.error
            assert (await environment.code_execution("answer['content'] = x\nanswer['ready'] = True")).final_answer == "42"
        assert environment.session is None

    run(body)
