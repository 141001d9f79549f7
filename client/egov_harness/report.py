"""A readable conformance report (Markdown) of every scenario and step with its outcome.

Registered as a pytest plugin object by the egov-sandbox plugin; it listens to pytest-bdd's
hooks for steps and to pytest's reports for the outcome of each scenario (skips included).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

PASSED, FAILED, SKIPPED, NOT_RUN = "合格", "不合格", "スキップ", "未実行"
MARK = {PASSED: "✅", FAILED: "❌", SKIPPED: "⏭️", NOT_RUN: "▫️"}


@dataclass
class StepRecord:
    keyword: str
    text: str
    outcome: str = NOT_RUN
    message: str = ""


@dataclass
class ScenarioRecord:
    nodeid: str
    feature: str
    feature_file: str
    name: str
    test_id: str
    steps: list[StepRecord]
    outcome: str = NOT_RUN
    message: str = ""
    duration: float = 0.0
    evidence: Path | None = None
    example: int | None = None  # row of the Examples (scenario outlines)

    @property
    def title(self) -> str:
        return f"{self.name}（例 {self.example}）" if self.example else self.name


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _steps(scenario: Any) -> list[StepRecord]:
    return [StepRecord(step.keyword.strip(), step.name) for step in scenario.steps]


class ConformanceReport:
    def __init__(self, folder: Path, target_name: Any) -> None:
        self.folder = Path(folder)
        self.target_name = target_name  # callable or str: resolved when the report is written
        self.records: dict[str, ScenarioRecord] = {}
        self.started = datetime.now().astimezone()

    # -- pytest hooks

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from .tags import example_index, scenario_template, test_id_of

        for item in items:
            template = scenario_template(item)
            if template is None:
                continue
            self.records[item.nodeid] = ScenarioRecord(
                item.nodeid, template.feature.name, template.feature.rel_filename, template.name,
                test_id_of(item), _steps(template), example=example_index(item))

    def pytest_bdd_before_scenario(self, request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
        record = self.records.get(request.node.nodeid)
        if record is not None:
            record.name, record.steps = scenario.name, _steps(scenario)

    def _step(self, request: pytest.FixtureRequest, step: Any) -> StepRecord | None:
        record = self.records.get(request.node.nodeid)
        if record is None:
            return None
        return next((s for s in record.steps if s.text == step.name and s.outcome == NOT_RUN), None)

    def pytest_bdd_after_step(self, request: pytest.FixtureRequest, step: Any, **_: Any) -> None:
        if (found := self._step(request, step)) is not None:
            found.outcome = PASSED

    def pytest_bdd_step_error(self, request: pytest.FixtureRequest, step: Any, exception: BaseException,
                              **_: Any) -> None:
        if (found := self._step(request, step)) is not None:
            skipped = isinstance(exception, pytest.skip.Exception)
            found.outcome = SKIPPED if skipped else FAILED
            found.message = _one_line(f"{type(exception).__name__}: {exception}" if not skipped else exception)

    def pytest_bdd_step_func_lookup_error(self, request: pytest.FixtureRequest, step: Any,
                                          exception: BaseException, **_: Any) -> None:
        if (found := self._step(request, step)) is not None:
            found.outcome, found.message = FAILED, "この手順の定義がありません (no step definition)"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        report = yield
        record = self.records.get(item.nodeid)
        if record is None:
            return report
        record.duration += report.duration
        if report.skipped:
            record.outcome = SKIPPED
            longrepr = report.longrepr
            record.message = _one_line(longrepr[2] if isinstance(longrepr, tuple) else str(longrepr))
        elif report.failed:
            record.outcome = FAILED
            if not record.message:
                record.message = _one_line(str(getattr(report.longrepr, "reprcrash", None) or report.longrepr)
                                           .splitlines()[-1] if report.longrepr else "")
        elif report.when == "call" and record.outcome == NOT_RUN:
            record.outcome = PASSED
        evidence = getattr(item, "egov_evidence_dir", None)
        if evidence is not None and Path(evidence).exists():
            record.evidence = Path(evidence)
        return report

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        ran = [r for r in self.records.values() if r.outcome != NOT_RUN]
        if ran:
            self.write(ran)

    # -- output

    def write(self, records: list[ScenarioRecord]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "conformance.md"
        path.write_text(self.markdown(records), encoding="utf-8")
        return path

    def markdown(self, records: list[ScenarioRecord]) -> str:
        target = self.target_name() if callable(self.target_name) else self.target_name
        counts = {o: sum(r.outcome == o for r in records) for o in (PASSED, FAILED, SKIPPED)}
        lines = ["# e-Gov 電子申請API 適合性試験 結果報告", "",
                 f"- 試験対象 (target): {target}",
                 f"- 実施日時: {self.started.strftime('%Y-%m-%d %H:%M:%S %z')}",
                 f"- 結果: {MARK[PASSED]} 合格 {counts[PASSED]} ／ {MARK[FAILED]} 不合格 {counts[FAILED]} ／ "
                 f"{MARK[SKIPPED]} スキップ {counts[SKIPPED]} （全 {len(records)} シナリオ）", "",
                 "| 試験番号 | 機能 | シナリオ | 結果 | 時間 |", "|---|---|---|---|---|"]
        for r in records:
            lines.append(f"| {r.test_id} | {r.feature} | {r.title} | {MARK[r.outcome]} {r.outcome} | "
                         f"{r.duration:.2f}s |")
        features: dict[str, list[ScenarioRecord]] = {}
        for r in records:
            features.setdefault(f"{r.feature} (`{r.feature_file}`)", []).append(r)
        for title, group in features.items():
            lines += ["", f"## 機能: {title}"]
            for r in group:
                lines += ["", f"### {MARK[r.outcome]} {r.test_id} シナリオ: {r.title} — {r.outcome}", ""]
                if r.message and r.outcome != PASSED:
                    lines += [f"> {r.message}", ""]
                for s in r.steps:
                    note = f" — {s.message}" if s.message else ""
                    lines.append(f"- {MARK[s.outcome]} **{s.keyword}** {s.text}{note}")
                if r.evidence is not None:
                    files = sorted(p.name for p in r.evidence.iterdir())
                    rel = r.evidence.relative_to(self.folder) if r.evidence.is_relative_to(self.folder) else r.evidence
                    lines += ["", f"証跡 (evidence): `{rel}/` — {len(files)} ファイル"]
        return "\n".join(lines) + "\n"
