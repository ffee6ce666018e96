"""The Markdown summary: --gen-report=x.md and $GITHUB_STEP_SUMMARY (appended, only when measured)."""

import pytest

from pytest_genquality.report.markdown import markdown_summary
from report_helpers import CONFTEST, NODE_A, NODE_B, TESTS


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("TOY_SHIFT", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_quality=TESTS)
    return pytester


def table_lines(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_step_summary_is_appended_by_every_measuring_session(project, monkeypatch):
    summary = project.path / "step-summary.md"
    summary.write_text("earlier step output\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project.runpytest("--update-refs").assert_outcomes(passed=2)
    monkeypatch.setenv("TOY_SHIFT", "0.4")
    project.runpytest().assert_outcomes(failed=1, passed=1)
    project.makepyfile(test_quality="def test_nothing_measured():\n    pass\n")
    project.runpytest().assert_outcomes(passed=1)

    text = summary.read_text()
    assert text.startswith("earlier step output\n"), "appended, never overwritten"
    assert text.count("### genquality:") == 2, "the session that measured nothing adds nothing"
    second = text[text.rindex("### genquality:") :]
    assert second.startswith("### genquality: 1 fail, 1 pass")
    rows = table_lines(second)
    assert rows[0].startswith(f"| ❌ | {NODE_A} | fid@real |") and rows[1].startswith(f"| ✅ | {NODE_B} |")
    assert f"- **{NODE_A}** `fid@real`: worse by" in second


def test_md_report_file_holds_the_same_table(project, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    project.runpytest("--gen-report=out/summary.md").assert_outcomes(failed=2)
    text = (project.path / "out" / "summary.md").read_text()
    assert text.startswith("### genquality: 2 no-baseline")
    assert len(table_lines(text)) == 2
    assert "no baseline on this lane: run `pytest --update-refs`" in text


def test_cells_cannot_break_the_table():
    result = {
        "test": "t.py::test[a|b]",
        "key": "fid",
        "metric": "fid",
        "value": 31.4,
        "threshold": 28.0,
        "verdict": "fail",
        "higher_is_better": False,
        "reason": "within sampling noise",
    }
    text = markdown_summary([result], {"commit": "a1b2c3d", "branch": "main"})
    row = table_lines(text)[0]
    assert (
        "t.py::test[a\\|b]" in row and row.count(" | ") == 10
    )  # 11 columns: verdict mark + the table's 10 (margin and p since issue 10)
    assert "31.4 is above the threshold 28; within sampling noise" in text, "a crossed threshold is named first"
    assert "commit `a1b2c3d` on `main`" in text
