"""The protocol's data as typed Python values (protocol/frames.ts is the definition).

Every ``from_frame`` reads the fields it knows and ignores others, so a newer server that adds a
field does not break an older client.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Mapping, TypedDict, TypeVar, Union

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

D = TypeVar("D")


def known_fields(cls: type[D], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``raw`` that are fields of the dataclass ``cls`` (a newer server's others are left)."""
    names = {item.name for item in fields(cls)}
    return {name: value for name, value in raw.items() if name in names}


@dataclass(frozen=True)
class CellError:
    """A Python error the cell raised (its type, message and traceback)."""

    type: str = ""
    message: str = ""
    traceback: str = ""

    @classmethod
    def from_frame(cls, raw: Mapping[str, Any]) -> CellError:
        return cls(**known_fields(cls, raw))

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass(frozen=True)
class RlmCall:
    """One model call a cell made (``llm_query``, ``rlm_query``, or a child RLM's own)."""

    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration: float = 0.0
    """Seconds."""
    depth: int = 1
    """1 for a session's own llm_query; deeper for a child RLM's calls."""
    ok: bool = True
    """False when the call failed (Python got an ``"Error: ..."`` text)."""
    prompt: str | list[dict[str, str]] | None = None
    """In a session opened with ``rlm_call_text``: the prompt, or a child RLM's turn's messages."""
    response: str | None = None
    """In a session opened with ``rlm_call_text``: the answer's text."""

    @classmethod
    def from_frame(cls, raw: Mapping[str, Any]) -> RlmCall:
        return cls(**known_fields(cls, raw))


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
        nested = {
            "error": CellError.from_frame(error) if isinstance(error, Mapping) else None,
            "truncated": list(frame.get("truncated") or []),
            "rlm_calls": [RlmCall.from_frame(call) for call in frame.get("rlm_calls") or []],
        }
        return cls(**{**known_fields(cls, frame), **nested})


@dataclass(frozen=True)
class SessionLimits:
    """The ``limits`` of a ``session`` frame."""

    execution_timeout: float = 0
    max_execution_timeout: float = 0
    idle_timeout: float = 0
    max_queued_cells: int = 0
    max_frame_bytes: int = 0
    max_output_bytes: int = 0
    memory_mb: int = 0
    replay_buffer_bytes: int = 0
    max_file_bytes: int = 0

    @classmethod
    def from_frame(cls, raw: Mapping[str, Any]) -> SessionLimits:
        return cls(**known_fields(cls, raw))


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

    @classmethod
    def from_json(cls, answer: Mapping[str, Any]) -> ExecuteResponse:
        nested = {
            "locals": dict(answer.get("locals") or {}),
            "rlm_calls": [RlmCall.from_frame(call) for call in answer.get("rlm_calls") or []],
            "files": {path: base64.b64decode(data) for path, data in (answer.get("files") or {}).items()},
            "files_omitted": list(answer.get("files_omitted") or []),
        }
        return cls(**{**known_fields(cls, answer), **nested})
