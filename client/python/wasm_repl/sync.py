"""The blocking client: :class:`Session` runs an :class:`AsyncSession` on a private event loop
in a thread of its own, so that code without asyncio (a script, the RLM library) can use it.
Every method hands the async one's coroutine to that loop and waits for its answer: the logic
is the async session's alone."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine, Mapping, TypeVar

from .errors import SessionExpired
from .session import AsyncSession, DisplayCallback, InputCallback, TextCallback
from .types import ExecuteResult, FileListing, LocalsMode, SessionLimits

T = TypeVar("T")


class EventLoopThread:
    """An event loop running in a daemon thread; ``run`` waits for a coroutine on it. Interrupting
    the wait (Ctrl-C) cancels the coroutine: for ``execute``, that interrupts the cell."""

    def __init__(self, name: str = "wasm-repl") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            work.close()
            raise RuntimeError("a blocking wasm-repl call from one of its own callbacks would wait for itself; use the AsyncSession there")
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    @property
    def stopped(self) -> bool:
        return self.loop.is_closed() or not self._thread.is_alive()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join()
            self.loop.close()


def run_blocking(work: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to its end from code without a running event loop (or, inside one, such as
    a notebook's, in a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


class Session:
    """A persistent Python session, blocking: the same methods as :class:`AsyncSession`.

    Callbacks (``on_stdout``, ...) run on the session's own thread while ``execute`` waits.
    Use it as ``with Session.open(...) as session:`` to close it at the end.
    """

    def __init__(self, session: AsyncSession, loop: EventLoopThread) -> None:
        """Use :meth:`open` or :meth:`attach`."""
        self._session = session
        self._loop = loop

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        token: str | None = None,
        env: Mapping[str, str] | None = None,
        reconnect: bool = True,
        max_reconnect_attempts: int = 10,
    ) -> Session:
        """Opens a new session (see :meth:`AsyncSession.open`)."""
        loop = EventLoopThread()
        try:
            return cls(loop.run(AsyncSession.open(url, token=token, env=env, reconnect=reconnect, max_reconnect_attempts=max_reconnect_attempts)), loop)
        except BaseException:
            loop.stop()
            raise

    @classmethod
    def attach(
        cls,
        url: str | None,
        session_id: str,
        *,
        token: str | None = None,
        since: int | None = None,
        reconnect: bool = True,
        max_reconnect_attempts: int = 10,
    ) -> Session:
        """Attaches to an existing session of yours (see :meth:`AsyncSession.attach`)."""
        loop = EventLoopThread()
        try:
            attached = AsyncSession.attach(url, session_id, token=token, since=since, reconnect=reconnect, max_reconnect_attempts=max_reconnect_attempts)
            return cls(loop.run(attached), loop)
        except BaseException:
            loop.stop()
            raise

    def __enter__(self) -> Session:
        return self

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        if self._loop.stopped:
            work.close()
            raise SessionExpired("session_expired", "this client is done with the session (it was closed or disconnected)")
        return self._loop.run(work)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if self._loop.stopped:
            return
        try:
            self._run(self._session.__aexit__(kind, error, traceback))
        finally:
            self._loop.stop()

    @property
    def async_session(self) -> AsyncSession:
        """The session this one drives (to be used on its loop only: ``loop``)."""
        return self._session

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop.loop

    @property
    def id(self) -> str:
        return self._session.id

    @property
    def last_seq(self) -> int:
        return self._session.last_seq

    @property
    def limits(self) -> SessionLimits | None:
        return self._session.limits

    @property
    def closed(self) -> bool:
        return self._session.closed

    def execute(
        self,
        code: str,
        *,
        timeout: float | None = None,
        locals: LocalsMode | None = None,
        on_stdout: TextCallback | None = None,
        on_stderr: TextCallback | None = None,
        on_display: DisplayCallback | None = None,
        on_input: InputCallback | None = None,
        id: str | None = None,
    ) -> ExecuteResult:
        """Runs code and returns its result (see :meth:`AsyncSession.execute`). Ctrl-C interrupts the cell."""
        options = {"timeout": timeout, "locals": locals, "on_stdout": on_stdout, "on_stderr": on_stderr, "on_display": on_display, "on_input": on_input, "id": id}
        return self._run(self._session.execute(code, **options))  # type: ignore[arg-type]

    def interrupt(self, id: str | None = None) -> None:
        self._run(self._session.interrupt(id))

    def set_vars(self, variables: Mapping[str, Any]) -> ExecuteResult:
        return self._run(self._session.set_vars(variables))

    def add_context(self, payload: Any, index: int | None = None, *, history: bool = False) -> ExecuteResult:
        return self._run(self._session.add_context(payload, index, history=history))

    def add_history(self, messages: Any, index: int | None = None) -> ExecuteResult:
        return self._run(self._session.add_history(messages, index))

    def install(self, wheel: bytes, filename: str) -> ExecuteResult:
        return self._run(self._session.install(wheel, filename))

    def reset(self) -> ExecuteResult:
        return self._run(self._session.reset())

    def refresh_token(self, token: str) -> None:
        self._run(self._session.refresh_token(token))

    def upload_file(self, path: str, content: bytes | str) -> None:
        self._run(self._session.upload_file(path, content))

    def download_file(self, path: str) -> bytes:
        return self._run(self._session.download_file(path))

    def list_files(self) -> FileListing:
        return self._run(self._session.list_files())

    def delete_file(self, path: str) -> None:
        self._run(self._session.delete_file(path))

    def close(self) -> None:
        """Ends the session on the server, and this client's thread (again: nothing)."""
        if self._loop.stopped:
            return
        try:
            self._run(self._session.close())
        finally:
            self._loop.stop()

    def disconnect(self) -> None:
        """Drops the connection without ending the session (it can be attached again)."""
        if self._loop.stopped:
            return
        try:
            self._run(self._session.disconnect())
        finally:
            self._loop.stop()
