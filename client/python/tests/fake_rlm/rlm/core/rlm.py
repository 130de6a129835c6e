"""RLM.completion's loop as the library runs it, around a root model that answers from a script
(backend_kwargs={"replies": [...]}): the environment comes from get_environment, imported by
name, with the keyword arguments the library passes; each reply's ```repl blocks run in it; the
first block whose result has a final_answer ends the completion."""

from __future__ import annotations

import re
from typing import Any

from rlm.environments import BaseEnv, SupportsPersistence, get_environment


class RLM:
    def __init__(self, backend: str = "openai", backend_kwargs: dict[str, Any] | None = None, environment: str = "local", environment_kwargs: dict[str, Any] | None = None, depth: int = 0, max_depth: int = 1, persistent: bool = False, max_concurrent_subcalls: int = 4):
        self.replies = list((backend_kwargs or {})["replies"])
        self.environment_type = environment
        self.environment_kwargs = dict(environment_kwargs or {})
        self.depth = depth
        self.max_depth = max_depth
        self.persistent = persistent
        self.max_concurrent_subcalls = max_concurrent_subcalls
        self._persistent_env: Any = None
        self.iterations: list[list[Any]] = []
        if persistent:
            self._validate_persistent_environment_support()

    def _validate_persistent_environment_support(self) -> None:
        if self.environment_type not in {"local", "ipython", "docker"}:
            raise ValueError(f"persistent=True is not supported for environment type '{self.environment_type}'")

    def _environment(self, prompt: Any) -> BaseEnv:
        if self.persistent and self._persistent_env is not None:
            self._persistent_env.update_handler_address(("127.0.0.1", 0))
            self._persistent_env.add_context(prompt)
            return self._persistent_env
        kwargs = dict(self.environment_kwargs)
        kwargs["lm_handler_address"] = ("127.0.0.1", 0)
        kwargs["context_payload"] = prompt
        kwargs["depth"] = self.depth + 1
        kwargs["max_concurrent_subcalls"] = self.max_concurrent_subcalls
        environment = get_environment(self.environment_type, kwargs)
        if self.persistent:
            self._persistent_env = environment
        return environment

    def completion(self, prompt: Any) -> str | None:
        environment = self._environment(prompt)
        messages: list[dict[str, str]] = [{"role": "user", "content": "see context"}]
        try:
            while self.replies:
                reply = self.replies.pop(0)
                messages.append({"role": "assistant", "content": reply})
                results = [environment.execute_code(code.strip()) for code in re.findall(r"```repl\s*\n(.*?)\n```", reply, re.DOTALL)]
                self.iterations.append(results)
                final = next((result.final_answer for result in results if result.final_answer is not None), None)
                if final is not None:
                    if self.persistent and isinstance(environment, SupportsPersistence):
                        environment.add_history(messages)
                    return final
            return None
        finally:
            if not self.persistent:
                environment.cleanup()

    def close(self) -> None:
        if self._persistent_env is not None:
            self._persistent_env.cleanup()
            self._persistent_env = None
