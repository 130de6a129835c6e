"""``WASMREPLEnv``: the environment of the original guide's "Integration with RLM" example
(``wasm_env = WASMREPLEnv(max_depth=3, timeout=30); await wasm_env.initialize(); result = await
wasm_env.code_execution("x = 42"); await wasm_env.cleanup()``), on one persistent session."""

from __future__ import annotations

from typing import Any, Mapping

from .session import AsyncSession, ToolEntry
from .types import ExecuteResponse, LocalsMode


class WASMREPLEnv:
    """A persistent sandboxed Python REPL for an RLM: each ``code_execution`` is a cell of the
    same session, so variables, functions and imports persist; ``llm_query`` / ``rlm_query``
    work inside it (through the server, which holds the model key).

    ``max_depth``: the server decides how deep ``rlm_query`` recurses (its ``MAX_DEPTH``, the same
    for every session; the protocol gives a session no way to choose its own), so this value is
    kept as ``self.max_depth`` for the caller but not sent. ``timeout``: each cell's, in seconds
    (capped by the server's ``MAX_EXECUTION_TIMEOUT``).
    """

    def __init__(
        self,
        max_depth: int = 3,
        timeout: float = 30,
        url: str | None = None,
        token: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        locals: LocalsMode = "all",
        tools: Mapping[str, ToolEntry] | None = None,
    ) -> None:
        self.max_depth = max_depth
        self.timeout = timeout
        self.url = url
        self._token = token
        self._env = env
        self._locals: LocalsMode = locals
        self._tools = tools
        self.session: AsyncSession | None = None

    async def initialize(self) -> None:
        """Opens the session (once)."""
        if self.session is None:
            self.session = await AsyncSession.open(self.url, token=self._token, env=self._env, tools=self._tools)

    async def code_execution(self, code: str) -> ExecuteResponse:
        """Runs ``code`` in the session. The answer has the fields of the guide's ``POST /execute``
        (``success``, ``stdout``, ``stderr``, ``locals``, ``execution_time``, ``error``: the
        traceback as text, ``final_answer``, ``rlm_calls``, ``value``)."""
        if self.session is None:
            await self.initialize()
        assert self.session is not None
        result = await self.session.execute(code, timeout=self.timeout, locals=self._locals)
        return ExecuteResponse(
            success=result.success,
            stdout=result.stdout,
            stderr=result.stderr,
            locals=dict(result.locals or {}),
            execution_time=result.execution_time,
            # As POST /execute has it: the traceback, or "Type: message" when there is none.
            error=None if result.error is None else result.error.traceback or str(result.error),
            value=result.value,
            final_answer=result.final_answer,
            rlm_calls=list(result.rlm_calls),
        )

    async def cleanup(self) -> None:
        """Ends the session."""
        session, self.session = self.session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> WASMREPLEnv:
        await self.initialize()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.cleanup()
