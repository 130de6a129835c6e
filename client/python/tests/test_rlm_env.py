"""The RLM library's environment, WasmReplREPL: without the library, and with it (the stand-in in
fake_rlm/, same layout and names), driven by an RLM whose root model answers from a script while
llm_query inside the cells reaches the test's model through the server."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any, Iterator

import pytest
from conftest import FAKE_RLM, requires_server

import wasm_repl
import wasm_repl.rlm_env

pytestmark = requires_server


def _forget_rlm() -> None:
    for name in [name for name in sys.modules if name == "rlm" or name.startswith("rlm.")]:
        del sys.modules[name]


@pytest.fixture
def without_rlm() -> Iterator[ModuleType]:
    """wasm_repl.rlm_env as it is where the library cannot be imported."""
    _forget_rlm()
    sys.modules["rlm"] = None  # type: ignore[assignment]  # `import rlm` raises ImportError
    try:
        yield importlib.reload(wasm_repl.rlm_env)
    finally:
        del sys.modules["rlm"]
        importlib.reload(wasm_repl.rlm_env)


@pytest.fixture
def with_rlm() -> Iterator[ModuleType]:
    """wasm_repl.rlm_env as it is where the library is installed."""
    _forget_rlm()
    sys.path.insert(0, str(FAKE_RLM))
    try:
        yield importlib.reload(wasm_repl.rlm_env)
    finally:
        sys.path.remove(str(FAKE_RLM))
        _forget_rlm()
        importlib.reload(wasm_repl.rlm_env)


def exercise(module: ModuleType) -> list[Any]:
    """Every method of the environment, end to end; returns the results of execute_code."""
    environment = module.WasmReplREPL(context_payload={"question": "what is 6 * 7?"}, setup_code="helper = 6", timeout=30)
    try:
        assert environment.get_context_count() == 1
        results = [
            environment.execute_code("print(context['question'])\nreply = llm_query('six sevens')\nprint(reply)"),
            environment.execute_code("product = helper * 7\nFINAL_VAR('product')"),
            environment.execute_code("answer['content'] = 'forty-two'\nanswer['ready'] = True"),
            environment.execute_code("1 / 0"),
        ]
        asked, final_var, answer_dict, failed = results
        assert asked.stdout == "what is 6 * 7?\necho: six sevens\n"
        assert asked.final_answer is None and asked.execution_time > 0
        assert asked.locals["reply"] == "echo: six sevens"
        assert len(asked.rlm_calls) == 1
        assert final_var.final_answer == "42"
        assert answer_dict.final_answer == "forty-two"
        assert failed.stderr.endswith("\nZeroDivisionError: division by zero") and failed.final_answer is None

        assert environment.add_context("a second context") == 1
        assert environment.add_context(["third"], 5) == 5 and environment.get_context_count() == 6
        history = [{"role": "user", "content": "hello"}]
        assert environment.add_history(history) == 0
        history.append({"role": "assistant", "content": "changed after"})
        assert environment.add_history([{"role": "user", "content": "again"}]) == 1
        assert environment.get_history_count() == 2
        environment.update_handler_address(("127.0.0.1", 1234))  # kept, unused: llm_query runs on the server
        seen = environment.execute_code("print(context_1, context_5, len(history), history_1[0]['content'], context['question'])")
        assert seen.stdout == "a second context ['third'] 1 again what is 6 * 7?\n"
    finally:
        environment.cleanup()
    environment.cleanup()  # a second time: nothing
    return results


def test_without_the_library_a_local_result_type_with_the_same_fields(without_rlm: ModuleType) -> None:
    assert without_rlm.RLM_AVAILABLE is False
    results = exercise(without_rlm)
    assert all(type(result) is without_rlm.REPLResult for result in results)
    call = results[0].rlm_calls[0]
    assert isinstance(call, wasm_repl.RlmCall) and call.model == "root-model" and call.ok
    assert results[0].llm_calls is results[0].rlm_calls
    assert set(results[0].to_dict()) == {"stdout", "stderr", "locals", "execution_time", "rlm_calls", "final_answer"}


def test_with_the_library_an_isolated_env_answering_its_repl_result(with_rlm: ModuleType) -> None:
    from rlm.core.types import REPLResult, RLMChatCompletion
    from rlm.environments import SupportsPersistence
    from rlm.environments.base_env import BaseEnv, IsolatedEnv

    assert with_rlm.RLM_AVAILABLE is True
    assert issubclass(with_rlm.WasmReplREPL, IsolatedEnv) and issubclass(with_rlm.WasmReplREPL, BaseEnv)
    results = exercise(with_rlm)
    assert all(type(result) is REPLResult for result in results)
    call = results[0].rlm_calls[0]
    assert isinstance(call, RLMChatCompletion) and call.root_model == "root-model" and call.error is None
    assert (call.prompt, call.response) == ("six sevens", "echo: six sevens")  # the session records call text
    usage = call.usage_summary.model_usage_summaries["root-model"]
    assert usage.total_calls == 1 and usage.total_input_tokens > 0 and usage.total_output_tokens == 3  # "echo: six sevens"
    environment = with_rlm.WasmReplREPL()
    try:
        assert isinstance(environment, SupportsPersistence)
        assert environment.depth == 1 and environment.persistent is False
    finally:
        environment.cleanup()


def test_custom_tools_that_are_functions_run_here_and_values_become_variables(without_rlm: ModuleType) -> None:
    looked_up: list[str] = []

    def lookup(key: str) -> str:
        looked_up.append(key)
        return key.upper()

    environment = without_rlm.WasmReplREPL(custom_tools={"lookup": {"tool": lookup, "description": "Upper-cases a key."}, "LIMIT": 3})
    try:
        result = environment.execute_code("print(lookup('abc'), LIMIT, lookup.__doc__)")
        assert result.stdout == "ABC 3 Upper-cases a key.\n", result.stderr
        assert looked_up == ["abc"]
    finally:
        environment.cleanup()


def test_an_rlm_runs_on_it_once_registered(with_rlm: ModuleType) -> None:
    from rlm import RLM

    with_rlm.register(timeout=30)
    replies = [
        "Let me look.\n```repl\nprint(type(context).__name__, len(context))\n```",
        "```repl\nsummary = llm_query('summarise: ' + context)\nprint(summary)\n```",
        "```repl\nFINAL_VAR('summary')\n```",
    ]
    rlm = RLM(backend_kwargs={"replies": replies}, environment="wasm", max_depth=2)
    assert rlm.completion("a long document") == "echo: summarise: a long document"
    assert [result.stdout for [result] in rlm.iterations] == ["str 15\n", "echo: summarise: a long document\n", ""]
    with pytest.raises(ValueError, match="Unknown environment"):
        RLM(backend_kwargs={"replies": []}, environment="elsewhere").completion("x")  # other names: the library's own list


def test_a_persistent_rlm_keeps_its_session_across_completions(with_rlm: ModuleType) -> None:
    from rlm import RLM

    class WasmRLM(RLM):
        """The library accepts persistent=True only for its own environments: a subclass lets it through."""

        def _validate_persistent_environment_support(self) -> None:
            pass

    with_rlm.register("wasm-persistent")
    first = ["```repl\nturn = 1\nanswer['content'] = context\nanswer['ready'] = True\n```"]
    second = ["```repl\nsaid = f'{turn} {context_0} {context_1} {len(history_0)}'\nFINAL_VAR('said')\n```"]
    rlm = WasmRLM(backend_kwargs={"replies": first + second}, environment="wasm-persistent", persistent=True)
    try:
        assert rlm.completion("first prompt") == "first prompt"
        assert rlm.completion("second prompt") == "1 first prompt second prompt 2"
    finally:
        rlm.close()
