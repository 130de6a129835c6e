from typing import Any

from rlm.environments.base_env import BaseEnv, IsolatedEnv, NonIsolatedEnv, SupportsPersistence

__all__ = ["BaseEnv", "IsolatedEnv", "NonIsolatedEnv", "SupportsPersistence", "get_environment"]


def get_environment(environment: str, environment_kwargs: dict[str, Any]) -> BaseEnv:
    """A fixed list, as the library's: none of its environments exist in this stand-in."""
    raise ValueError(f"Unknown environment: {environment}")
