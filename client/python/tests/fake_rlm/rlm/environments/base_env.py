"""The library's environment bases: BaseEnv, IsolatedEnv, NonIsolatedEnv, SupportsPersistence."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable


class BaseEnv(ABC):
    def __init__(self, persistent: bool = False, depth: int = 1, max_concurrent_subcalls: int = 4, **kwargs: Any):
        self.persistent = persistent
        self.depth = depth
        self.max_concurrent_subcalls = max_concurrent_subcalls
        self.kwargs = kwargs

    @abstractmethod
    def setup(self): ...

    @abstractmethod
    def load_context(self, context_payload): ...

    @abstractmethod
    def execute_code(self, code): ...


class IsolatedEnv(BaseEnv, ABC):
    def __init__(self, persistent: bool = False, **kwargs: Any):
        super().__init__(persistent=persistent, **kwargs)


class NonIsolatedEnv(BaseEnv, ABC):
    def __init__(self, persistent: bool = False, **kwargs: Any):
        super().__init__(persistent=persistent, **kwargs)


@runtime_checkable
class SupportsPersistence(Protocol):
    def update_handler_address(self, address: tuple[str, int]) -> None: ...

    def add_context(self, context_payload, context_index: int | None = None) -> int: ...

    def get_context_count(self) -> int: ...

    def add_history(self, message_history, history_index: int | None = None) -> int: ...

    def get_history_count(self) -> int: ...
