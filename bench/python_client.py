"""The Python client's side of bench/python-client.ts: a trivial cell's round trip, one cell after
another on one session, through the AsyncSession and the blocking Session. Prints one JSON line
of times in milliseconds: {"async": {...}, "blocking": {...}}, each with open, first (the first
cell, which takes the session's interpreter), cold (the cells after it) and warm (batches).
Arguments: the cold cells, the batches, the cells of a batch, the server's POOL_SIZE; WASM_REPL_URL is the server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "client", "python"))

from wasm_repl import AsyncSession, ExecuteResult, Session  # noqa: E402

COLD, BATCHES, PER_BATCH, POOL_SIZE = (int(value) for value in sys.argv[1:5])
# A user of its own for each client (as the TypeScript one has), as WASM_REPL_BENCH_TOKENS="ASYNC BLOCKING".
ASYNC_TOKEN, BLOCKING_TOKEN = os.environ["WASM_REPL_BENCH_TOKENS"].split()
CELL = "x = x + 1"


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def wait_for_pool() -> None:
    """Until the server's warm pool is full again (its metric says POOL_SIZE interpreters wait), a minute at most."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{os.environ['WASM_REPL_URL']}/metrics", timeout=10) as answer:
                metrics = answer.read().decode()
            found = re.search(r"^wasm_repl_pool_available_sandboxes (\d+)", metrics, re.M)
            if found and int(found.group(1)) >= POOL_SIZE:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)


def checked(result: ExecuteResult) -> None:
    if not result.success:
        raise RuntimeError(f"cell failed: {result.error}")


async def measure_async() -> dict[str, Any]:
    started = time.perf_counter()
    session = await AsyncSession.open(token=ASYNC_TOKEN, reconnect=False)
    opened = ms_since(started)
    started = time.perf_counter()
    checked(await session.execute("x = 0", locals="none"))
    first = ms_since(started)

    async def cells(count: int) -> list[float]:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            checked(await session.execute(CELL, locals="none"))
            times.append(ms_since(started))
        return times

    cold = await cells(COLD)
    warm = [await cells(PER_BATCH) for _ in range(BATCHES)]
    await session.close()
    return {"open": opened, "first": first, "cold": cold, "warm": warm}


def measure_blocking() -> dict[str, Any]:
    started = time.perf_counter()
    session = Session.open(token=BLOCKING_TOKEN, reconnect=False)
    opened = ms_since(started)
    started = time.perf_counter()
    checked(session.execute("x = 0", locals="none"))
    first = ms_since(started)

    def cells(count: int) -> list[float]:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            checked(session.execute(CELL, locals="none"))
            times.append(ms_since(started))
        return times

    cold = cells(COLD)
    warm = [cells(PER_BATCH) for _ in range(BATCHES)]
    session.close()
    return {"open": opened, "first": first, "cold": cold, "warm": warm}


measures: dict[str, Callable[[], dict[str, Any]]] = {"async": lambda: asyncio.run(measure_async()), "blocking": measure_blocking}
times = {}
for name, measure in measures.items():
    wait_for_pool()
    times[name] = measure()
print(json.dumps(times))
