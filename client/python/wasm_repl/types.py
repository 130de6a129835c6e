"""The protocol's data as typed Python values (protocol/frames.ts is the definition).

Every ``from_frame`` reads the fields it knows and ignores others, so a newer server that adds a
field does not break an older client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, TypedDict, Union

LocalsMode = Literal["all", "changed", "none"]

# A server frame as it arrives (decoded JSON); its "type" says which.
Frame = dict[str, Any]


class DisplayFrame(TypedDict, total=False):
    """Rich output a running cell displayed (``display()``): handed to ``on_display``."""

    type: Literal["display"]
    seq: int
    id: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    display_id: str
    update: bool


class ClearOutputFrame(TypedDict):
    """The cell cleared its output (``clear_output()``): handed to ``on_display`` too."""

    type: Literal["clear_output"]
    seq: int
    id: str
    wait: bool


DisplayEvent = Union[DisplayFrame, ClearOutputFrame]


@dataclass(frozen=True)
class CellError:
    """A Python error the cell raised (its type, message and traceback)."""

    type: str
    message: str
    traceback: str

    @classmethod
    def from_frame(cls, raw: Mapping[str, Any]) -> CellError:
        return cls(type=str(raw.get("type", "")), message=str(raw.get("message", "")), traceback=str(raw.get("traceback", "")))

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass(frozen=True)
class RlmCall:
    """One model call a cell made (``llm_query``, ``rlm_query``, or a child RLM's own)."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    duration: float
    """Seconds."""
    depth: int
    """1 for a session's own llm_query; deeper for a child RLM's calls."""
    ok: bool
    """False when the call failed (Python got an ``"Error: ..."`` text)."""

    @classmethod
    def from_frame(cls, raw: Mapping[str, Any]) -> RlmCall:
        return cls(
            model=str(raw.get("model", "")),
            prompt_tokens=int(raw.get("prompt_tokens", 0)),
            completion_tokens=int(raw.get("completion_tokens", 0)),
            duration=float(raw.get("duration", 0.0)),
            depth=int(raw.get("depth", 1)),
            ok=bool(raw.get("ok", True)),
        )


@dataclass(frozen=True)
class ExecuteResult:
    """A ``result`` frame: how a cell (or set_vars, add_context, reset, ...) ended.

    ``success`` is False and ``error`` set when the Python raised (a timeout is ``TimeoutError``,
    an interrupt ``KeyboardInterrupt``): that is an answer, not an exception.
    """

    seq: int
    id: str
    success: bool
    stdout: str
    stderr: str
    value: str | None
    """repr of the cell's trailing expression, or None."""
    locals: dict[str, Any] | None
    """A JSON summary of the session's variables (per the ``locals`` mode), or None."""
    execution_count: int
    execution_time: float
    """Seconds."""
    error: CellError | None
    state_preserved: bool
    """False when the interpreter was restarted: the session's variables are gone."""
    output_dropped_bytes: int
    final_answer: str | None
    """The text given by ``FINAL_VAR(...)`` or ``answer["ready"] = True``, else None."""
    truncated: list[str] = field(default_factory=list)
    rlm_calls: list[RlmCall] = field(default_factory=list)
    data: dict[str, Any] | None = None
    """The trailing expression's MIME bundle, or None."""

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> ExecuteResult:
        error = frame.get("error")
        return cls(
            seq=int(frame.get("seq", 0)),
            id=str(frame.get("id", "")),
            success=bool(frame.get("success", False)),
            stdout=str(frame.get("stdout", "")),
            stderr=str(frame.get("stderr", "")),
            value=frame.get("value"),
            locals=frame.get("locals"),
            execution_count=int(frame.get("execution_count", 0)),
            execution_time=float(frame.get("execution_time", 0.0)),
            error=CellError.from_frame(error) if isinstance(error, Mapping) else None,
            state_preserved=bool(frame.get("state_preserved", True)),
            output_dropped_bytes=int(frame.get("output_dropped_bytes", 0)),
            final_answer=frame.get("final_answer"),
            truncated=list(frame.get("truncated") or []),
            rlm_calls=[RlmCall.from_frame(call) for call in frame.get("rlm_calls") or []],
            data=frame.get("data"),
        )


@dataclass(frozen=True)
class SessionLimits:
    """The ``limits`` of a ``session`` frame."""

    execution_timeout: float
    max_execution_timeout: float
    idle_timeout: float
    max_queued_cells: int
    max_frame_bytes: int
    max_output_bytes: int
    memory_mb: int
    replay_buffer_bytes: int
    max_file_bytes: int

    @classmethod
    def from_frame(cls, raw: Mapping[str, Any]) -> SessionLimits:
        return cls(
            execution_timeout=float(raw.get("execution_timeout", 0)),
            max_execution_timeout=float(raw.get("max_execution_timeout", 0)),
            idle_timeout=float(raw.get("idle_timeout", 0)),
            max_queued_cells=int(raw.get("max_queued_cells", 0)),
            max_frame_bytes=int(raw.get("max_frame_bytes", 0)),
            max_output_bytes=int(raw.get("max_output_bytes", 0)),
            memory_mb=int(raw.get("memory_mb", 0)),
            replay_buffer_bytes=int(raw.get("replay_buffer_bytes", 0)),
            max_file_bytes=int(raw.get("max_file_bytes", 0)),
        )


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    """Bytes."""


@dataclass(frozen=True)
class FileListing:
    files: list[FileInfo]
    truncated: bool
    """Some files were left out (more than the server lists at once)."""


@dataclass(frozen=True)
class SessionSummary:
    """One session of ``GET /v1/sessions``: metadata only."""

    session_id: str
    tenant: str
    user: str
    created_at: str
    last_active_at: str
    cell_count: int
    running: bool
    attached_clients: int

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SessionSummary:
        return cls(
            session_id=str(raw["session_id"]),
            tenant=str(raw.get("tenant", "")),
            user=str(raw.get("user", "")),
            created_at=str(raw.get("created_at", "")),
            last_active_at=str(raw.get("last_active_at", "")),
            cell_count=int(raw.get("cell_count", 0)),
            running=bool(raw.get("running", False)),
            attached_clients=int(raw.get("attached_clients", 0)),
        )


@dataclass(frozen=True)
class ExecuteResponse:
    """The answer of the guide's ``POST /execute``.

    ``error`` is the traceback as text (the guide's shape), None on success; ``files`` are the files
    the code left in ``outputs/`` (bytes), ``files_omitted`` those that did not fit.
    """

    success: bool
    stdout: str
    stderr: str
    locals: dict[str, Any]
    execution_time: float
    error: str | None
    value: str | None = None
    final_answer: str | None = None
    rlm_calls: list[RlmCall] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    files_omitted: list[str] = field(default_factory=list)
