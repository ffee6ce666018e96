"""The Markdown summary: ``--gen-report=x.md`` and the GitHub Actions job summary.

GitHub renders ``$GITHUB_STEP_SUMMARY`` on the run's page, so a reviewer sees which quality
metric failed, and by how much, without downloading an artifact. The file is shared by all
steps of a job, hence appended to, never overwritten.
"""

from __future__ import annotations

import os
from pathlib import Path

from .table import PROBLEM_VERDICTS, VERDICT_ORDER, legend_lines, sorted_results, table_rows
from .model import verdict_reason

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
_VERDICT_ICONS = {
    "fail": "❌",
    "error": "⛔",
    "no-baseline": "⚠️",
    "improved": "🟢",
    "updated": "🔄",
    "not-written": "⏸️",
    "pass": "✅",
}


def _cell(text: str) -> str:
    """A table cell: pipes and newlines would end the cell or the row."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _headline(results: list[dict], provenance: dict) -> str:
    """Verdict counts of the newest run; dashboard rows from older runs are named apart, not counted."""
    counts: dict[str, int] = {}
    for result in results:
        if not result.get("stale"):
            counts[result["verdict"]] = counts.get(result["verdict"], 0) + 1
    order = list(VERDICT_ORDER)
    parts = [f"{counts[v]} {v}" for v in order if v in counts] + [
        f"{n} {v}" for v, n in counts.items() if v not in order
    ]
    older = sum(1 for result in results if result.get("stale"))
    if older:
        parts.append(f"{older} from older runs (not measured in the newest run, not counted)")
    commit = provenance.get("commit") or "no git"
    where = f"commit `{commit}`" + (" (dirty)" if provenance.get("dirty") else "")
    if provenance.get("branch"):
        where += f" on `{provenance['branch']}`"
    return f"### genquality: {', '.join(parts) or 'nothing measured'} — {where}"


def markdown_summary(results: list[dict], provenance: dict) -> str:
    """A heading with the verdict counts, the metric table (failures first), and failure reasons."""
    rows = table_rows(results)
    header = ["", *rows[0]]
    lines = [
        _headline(results, provenance),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    ordered = sorted_results(results)
    for result, cells in zip(ordered, rows[1:]):
        icon = "🕘" if result.get("stale") else _VERDICT_ICONS.get(result["verdict"], "")
        lines.append("| " + " | ".join(_cell(c) for c in [icon, *cells]) + " |")
    failed = [r for r in ordered if r["verdict"] in PROBLEM_VERDICTS and not r.get("stale")]
    if failed:
        lines.append("")
        lines.extend(f"- **{_cell(r['test'])}** `{r['key']}`: {verdict_reason(r)}" for r in failed)
    lines.extend(["", "<details><summary>columns</summary>", ""])
    lines.extend(f"- {line}" for line in legend_lines())
    lines.extend(["", "</details>"])
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, results: list[dict], provenance: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown_summary(results, provenance), encoding="utf-8")
    return path


def append_step_summary(results: list[dict], provenance: dict, environ=os.environ) -> Path | None:
    """Append the summary to ``$GITHUB_STEP_SUMMARY`` when it is set and anything was measured."""
    target = environ.get(STEP_SUMMARY_ENV)
    if not target or not results:
        return None
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(markdown_summary(results, provenance) + "\n")
    return Path(target)
