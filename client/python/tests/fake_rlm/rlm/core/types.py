"""The library's result types, as its newest version has them (fields and constructor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ModelUsageSummary:
    total_calls: int
    total_input_tokens: int
    total_output_tokens: int
    total_cost: float | None = None


@dataclass
class UsageSummary:
    model_usage_summaries: dict[str, ModelUsageSummary]


@dataclass
class RLMChatCompletion:
    root_model: str
    prompt: str | dict[str, Any]
    response: str
    usage_summary: UsageSummary
    execution_time: float
    metadata: dict | None = None
    error: str | None = None


class REPLResult:
    def __init__(self, stdout: str, stderr: str, locals: dict, execution_time: float | None = None, rlm_calls: list | None = None, final_answer: str | None = None):
        self.stdout = stdout
        self.stderr = stderr
        self.locals = locals
        self.execution_time = execution_time
        self.rlm_calls = rlm_calls or []
        self.final_answer = final_answer
