"""The result of an eval, shaped like ``gh models eval --json`` so existing tooling reads it.

``{name, description, model, testResults: [{testCase, modelResponse, evaluationResults:
[{evaluatorName, score, passed, details}]}], summary: {totalTests, passedTests,
failedTests, passRate}}``; ``passRate`` is a percentage (100 when there are no rows).
A row whose model or judge call failed carries an extra ``error`` (omitted otherwise).
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct, field

__all__ = ["EvalReport", "EvalSummary", "EvaluationResult", "TestResult"]


class EvaluationResult(Struct, rename="camel", omit_defaults=True):
    """One evaluator's verdict on one row; ``details`` is omitted when empty (as gh does)."""

    evaluator_name: str
    score: float
    passed: bool
    details: str = ""


class TestResult(Struct, rename="camel", omit_defaults=True):
    """One test row: its variables, the trimmed answer and every evaluator's verdict."""

    test_case: dict[str, Any]
    model_response: str
    evaluation_results: list[EvaluationResult] = field(default_factory=list)
    error: str | None = None

    __test__ = False  # not a pytest test class

    @property
    def passed(self) -> bool:
        """True when the row ran and every evaluator passed."""
        return self.error is None and all(r.passed for r in self.evaluation_results)


class EvalSummary(Struct, rename="camel"):
    """Counts of the rows and the pass rate in percent."""

    total_tests: int
    passed_tests: int
    failed_tests: int
    pass_rate: float


class EvalReport(Struct, rename="camel"):
    """The whole eval; :meth:`to_json` gives the ``gh models eval --json`` document."""

    name: str
    description: str
    model: str
    test_results: list[TestResult]
    summary: EvalSummary

    @property
    def passed(self) -> bool:
        """True when every row passed."""
        return self.summary.failed_tests == 0

    def to_json(self, *, indent: int = 2) -> str:
        """The report as JSON text (two-space indent like ``gh``; 0 for one line)."""
        raw = msgspec.json.encode(self)
        return (msgspec.json.format(raw, indent=indent) if indent else raw).decode()

    @classmethod
    def build(cls, name: str, description: str, model: str, rows: list[TestResult]) -> EvalReport:
        """A report over ``rows`` with its summary computed."""
        passed = sum(1 for row in rows if row.passed)
        total = len(rows)
        rate = 100.0 if total == 0 else passed / total * 100
        summary = EvalSummary(total, passed, total - passed, rate)
        return cls(name, description, model, rows, summary)
