"""The blocking client: :class:`Session` runs an :class:`AsyncSession` on a private event loop
in a thread of its own, so that code without asyncio (a script, the RLM library) can use it.
Every method hands the async one's coroutine to that loop and waits for its answer: the logic
is the async session's alone."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Mapping, TypeVar

from .errors import SessionExpired
from .session import AsyncSession
from .types import ExecuteResult, FileListing, SessionLimits

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .session import AttachOptions, ExecuteOptions, OpenOptions

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
    def open(cls, url: str | None = None, **options: Unpack[OpenOptions]) -> Session:
        """Opens a new session (see :meth:`AsyncSession.open` for the options)."""
        return cls._start(lambda: AsyncSession.open(url, **options))

    @classmethod
    def attach(cls, url: str | None, session_id: str, **options: Unpack[AttachOptions]) -> Session:
        """Attaches to an existing session of yours (see :meth:`AsyncSession.attach` for the options)."""
        return cls._start(lambda: AsyncSession.attach(url, session_id, **options))

    @classmethod
    def _start(cls, connect: Callable[[], Coroutine[Any, Any, AsyncSession]]) -> Session:
        loop = EventLoopThread()
        try:
            return cls(loop.run(connect()), loop)
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
        self._end(self._session.__aexit__(kind, error, traceback))

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

    def execute(self, code: str, **options: Unpack[ExecuteOptions]) -> ExecuteResult:
        """Runs code and returns its result (see :meth:`AsyncSession.execute` for the options). Ctrl-C interrupts the cell."""
        return self._run(self._session.execute(code, **options))

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

    def register_tool(self, name: str, tool: Callable[..., Any], description: str | None = None) -> ExecuteResult:
        """See :meth:`AsyncSession.register_tool`: a plain function runs in a worker thread."""
        return self._run(self._session.register_tool(name, tool, description))

    def unregister_tool(self, name: str) -> ExecuteResult:
        return self._run(self._session.unregister_tool(name))

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
        self._end(self._session.close())

    def disconnect(self) -> None:
        """Drops the connection without ending the session (it can be attached again)."""
        self._end(self._session.disconnect())

    def _end(self, work: Coroutine[Any, Any, None]) -> None:
        if self._loop.stopped:
            work.close()
            return
        try:
            self._loop.run(work)
        finally:
            self._loop.stop()
