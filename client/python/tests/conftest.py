"""What the tests share. They run against a real server whose URL and tokens are in the
environment (test/python/client.test.ts starts one and runs pytest): WASM_REPL_URL and
WASM_REPL_TOKEN, as a user sets them, and a few more for the tests alone. The package is
imported from this checkout (no install needed)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PACKAGE_ROOT))

# A stand-in for the RLM library (its module layout and base class names), for the tests that
# need it installed; not on sys.path unless a test puts it there.
FAKE_RLM = Path(__file__).resolve().parent / "fake_rlm"

URL = os.environ.get("WASM_REPL_URL", "")
TOKEN = os.environ.get("WASM_REPL_TOKEN", "")
LLM_URL = os.environ.get("WASM_REPL_TEST_LLM_URL", "")

requires_server = pytest.mark.skipif(not (URL and TOKEN and LLM_URL), reason="needs a server: run test/python/client.test.ts")

T = TypeVar("T")


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Runs an async test body on a fresh event loop."""
    return asyncio.run(work())  # type: ignore[arg-type]


def in_session(test: Callable[[Any], Awaitable[None]]) -> Callable[[], None]:
    """A test of one new AsyncSession (closed after): ``async def test_x(session)`` becomes a plain test."""

    def run_in_session() -> None:
        from wasm_repl import AsyncSession

        async def body() -> None:
            async with await AsyncSession.open() as session:
                await test(session)

        asyncio.run(body())

    run_in_session.__name__ = test.__name__
    run_in_session.__doc__ = test.__doc__
    return run_in_session


def hold_key(name: str) -> str:
    """A key for llm_query("hold:KEY") of this run alone (the model's script remembers released keys)."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def release(key: str) -> None:
    """Lets a cell waiting in llm_query("hold:KEY") go on (see the model's script in client.test.ts)."""
    body = json.dumps({"model": "test", "messages": [{"role": "user", "content": f"release:{key}"}]}).encode()
    request = urllib.request.Request(f"{LLM_URL}/chat/completions", data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()


def session_summary(session_id: str) -> dict[str, Any]:
    """The session's entry in GET /v1/sessions."""
    request = urllib.request.Request(f"{URL}/v1/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        listing = json.loads(answer.read())
    return next(item for item in listing["sessions"] if item["session_id"] == session_id)
