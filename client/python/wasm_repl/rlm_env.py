"""An environment of the RLM library (github.com/alexzhang13/rlm) on a wasm-repl session:
``WasmReplREPL``, with the library's names and semantics (``setup``, ``load_context``,
``execute_code`` returning a ``REPLResult``, ``cleanup``, and the persistence methods).

When ``rlm`` is importable, ``WasmReplREPL`` is one of its ``IsolatedEnv`` (the code runs on
another machine than the model) and answers the library's own ``REPLResult``; otherwise it is a
plain class answering a local ``REPLResult`` with the same fields.

The library picks its environment from a fixed list (``rlm.environments.get_environment``, which
``rlm.core.rlm`` imports by name): :func:`register` wraps that factory so that
``RLM(environment="wasm", environment_kwargs={...})`` builds a ``WasmReplREPL``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import BadRequest
from .sync import Session
from .types import ExecuteResult, LocalsMode, RlmCall

try:
    from rlm.core.types import ModelUsageSummary, REPLResult, RLMChatCompletion, UsageSummary  # type: ignore
    from rlm.environments.base_env import IsolatedEnv as _EnvBase  # type: ignore

    RLM_AVAILABLE = True
except ImportError:
    RLM_AVAILABLE = False

    class _EnvBase:  # type: ignore[no-redef]
        """The library's BaseEnv constructor, for when the library is not installed."""

        def __init__(self, persistent: bool = False, depth: int = 1, max_concurrent_subcalls: int = 4, **kwargs: Any) -> None:
            self.persistent = persistent
            self.depth = depth
            self.max_concurrent_subcalls = max_concurrent_subcalls
            self.kwargs = kwargs

    @dataclass
    class REPLResult:  # type: ignore[no-redef]
        """The library's REPLResult, with its fields, for when the library is not installed.
        ``rlm_calls`` are the protocol's :class:`RlmCall` here."""

        stdout: str
        stderr: str
        locals: dict[str, Any]
        execution_time: float = 0.0
        rlm_calls: list[Any] = field(default_factory=list)
        final_answer: str | None = None

        @property
        def llm_calls(self) -> list[Any]:
            """The name the library's class annotates (its constructor takes ``rlm_calls``)."""
            return self.rlm_calls

        def to_dict(self) -> dict[str, Any]:
            return {
                "stdout": self.stdout,
                "stderr": self.stderr,
                "locals": self.locals,
                "execution_time": self.execution_time,
                "rlm_calls": [call.__dict__ for call in self.rlm_calls],
                "final_answer": self.final_answer,
            }


FAILED_CALL = 'the model call failed (Python got an "Error: ..." text)'


def _call_record(call: RlmCall) -> Any:
    """A model call as the library records one (an RLMChatCompletion), when it is installed, with
    its prompt and response (the session is opened with ``rlm_call_text``)."""
    if not RLM_AVAILABLE:
        return call
    usage = UsageSummary(model_usage_summaries={call.model: ModelUsageSummary(total_calls=1, total_input_tokens=call.prompt_tokens, total_output_tokens=call.completion_tokens)})
    record: dict[str, Any] = {"root_model": call.model, "prompt": call.prompt or "", "response": call.response or "", "usage_summary": usage, "execution_time": call.duration}
    if not call.ok:
        record["error"] = FAILED_CALL
    return RLMChatCompletion(**record)


class WasmReplREPL(_EnvBase):  # type: ignore[misc]
    """The RLM library's REPL environment on a persistent wasm-repl session.

    ``llm_query``, ``llm_query_batched``, ``rlm_query``, ``rlm_query_batched``, ``SHOW_VARS``,
    ``FINAL_VAR`` and ``answer`` are the server's: model calls go from the sandbox through the
    server (with the server's model, ``LLM_MODEL``, and key), and ``rlm_query`` recurses as deep
    as the server's ``MAX_DEPTH``. So the RLM's LM handler address and ``subcall_fn`` are not
    used. ``url`` and ``token`` default as :meth:`Session.open`'s do; ``timeout`` is each cell's.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        lm_handler_address: tuple[str, int] | None = None,
        context_payload: dict[str, Any] | list[Any] | str | None = None,
        setup_code: str | None = None,
        persistent: bool = False,
        depth: int = 1,
        *,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        locals: LocalsMode = "all",
        custom_tools: dict[str, Any] | None = None,
        subcall_fn: Callable[..., Any] | None = None,
        max_concurrent_subcalls: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(persistent=persistent, depth=depth, max_concurrent_subcalls=max_concurrent_subcalls, **kwargs)
        self.url = url
        self.lm_handler_address = lm_handler_address
        self.timeout = timeout
        self.custom_tools = dict(custom_tools or {})
        self._token = token
        self._env = env
        self._locals: LocalsMode = locals
        self._context_count = 0
        self._history_count = 0
        self.session: Session | None = None
        # subcall_fn is the library's in-process child RLM: here rlm_query runs on the server.
        del subcall_fn
        self.setup()
        if context_payload is not None:
            self.load_context(context_payload)
        if setup_code:
            self.execute_code(setup_code)

    # ---- the library's BaseEnv ----

    def setup(self) -> None:
        """Opens the session (the interpreter and its helpers are the server's). Custom tools that
        are functions become the session's tools: Python calls them by name and they run here, in
        this process, as the library's own REPLs run them; the others become variables."""
        if self.session is not None:
            return
        functions = {name: tool for name, tool in self.custom_tools.items() if callable(_tool_value(tool))}
        self.session = Session.open(self.url, token=self._token, env=self._env, rlm_call_text=True, tools=functions)
        values = {name: _tool_value(tool) for name, tool in self.custom_tools.items() if name not in functions}
        if values:
            self._check(self.session.set_vars(values), "the custom tools")

    def load_context(self, context_payload: dict[str, Any] | list[Any] | str) -> None:
        self.add_context(context_payload, 0)

    def execute_code(self, code: str) -> Any:
        """Runs ``code`` as a cell of the session: a ``REPLResult`` whose stderr ends with the
        error's ``Type: message`` when the code raised, as the library's local REPL has it."""
        result = self._session().execute(code, timeout=self.timeout, locals=self._locals)
        stderr = result.stderr
        if result.error is not None:
            stderr += f"\n{result.error.type}: {result.error.message}"
        return REPLResult(
            stdout=result.stdout,
            stderr=stderr,
            locals=dict(result.locals or {}),
            execution_time=result.execution_time,
            rlm_calls=[_call_record(call) for call in result.rlm_calls],
            final_answer=result.final_answer,
        )

    def cleanup(self) -> None:
        """Ends the session (again: nothing)."""
        session, self.session = self.session, None
        if session is not None:
            session.close()

    def __enter__(self) -> WasmReplREPL:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()

    # ---- the library's SupportsPersistence ----

    def update_handler_address(self, address: tuple[str, int]) -> None:
        """Kept, and not used: llm_query runs on the server, which calls the model itself."""
        self.lm_handler_address = address

    def add_context(self, context_payload: dict[str, Any] | list[Any] | str, context_index: int | None = None) -> int:
        """``context_<index>`` (``context`` naming ``context_0``); returns the index used."""
        index = self._context_count if context_index is None else context_index
        self._check(self._session().add_context(context_payload, index), "the context")
        self._context_count = max(self._context_count, index + 1)
        return index

    def get_context_count(self) -> int:
        return self._context_count

    def add_history(self, message_history: list[dict[str, Any]], history_index: int | None = None) -> int:
        """``history_<index>`` (``history`` naming ``history_0``): a copy of the messages as they are now."""
        index = self._history_count if history_index is None else history_index
        self._check(self._session().add_history(copy.deepcopy(message_history), index), "the history")
        self._history_count = max(self._history_count, index + 1)
        return index

    def get_history_count(self) -> int:
        return self._history_count

    # ----

    def _session(self) -> Session:
        if self.session is None:
            self.setup()
        assert self.session is not None
        return self.session

    @staticmethod
    def _check(result: ExecuteResult, what: str) -> None:
        if not result.success:
            raise BadRequest("bad_request", f"{what} could not be set: {result.error}")


def _tool_value(entry: Any) -> Any:
    """A custom tool's value: the library takes ``value`` or ``{"tool": value, "description": ...}``."""
    return entry["tool"] if isinstance(entry, dict) and "tool" in entry else entry


def register(name: str = "wasm", **defaults: Any) -> None:
    """Lets the RLM library build a :class:`WasmReplREPL` for ``RLM(environment=name)``.

    The library's ``get_environment`` is a fixed list, imported by name into ``rlm.core.rlm``:
    this wraps it in both places (calls for other names go to the original). ``defaults`` are
    keyword arguments for every ``WasmReplREPL`` (``url=``, ``token=``, ``timeout=``...), under
    the RLM's ``environment_kwargs``.
    """
    import rlm.core.rlm as core  # type: ignore
    import rlm.environments as environments  # type: ignore

    original: Callable[..., Any] = getattr(core.get_environment, "__wrapped__", core.get_environment)

    def get_environment(environment: str, environment_kwargs: dict[str, Any]) -> Any:
        if environment == name:
            return WasmReplREPL(**{**defaults, **environment_kwargs})
        return original(environment, environment_kwargs)

    get_environment.__wrapped__ = original  # type: ignore[attr-defined]
    core.get_environment = get_environment
    environments.get_environment = get_environment
