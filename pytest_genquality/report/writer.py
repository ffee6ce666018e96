"""--gen-report: write the session's results as a JSON, Markdown or HTML file."""

from __future__ import annotations

from pathlib import Path

from ..store.files import atomic_write_json
from .table import sorted_results

REPORT_SCHEMA = 1


def write_report(
    path: Path,
    results: list[dict],
    provenance: dict,
    *,
    thumbnails: dict | None = None,
    store=None,
    current_run: Path | None = None,
    thumb: int = 96,
) -> Path:
    """--gen-report: .json (the same as the run file's results), .md (summary) or .html (page).

    The HTML page also uses ``thumbnails`` (node id -> kept images), the ``store`` (baseline
    images, history) and ``current_run`` (this session's run file, not to count twice).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        atomic_write_json(
            path,
            {"schema": REPORT_SCHEMA, "kind": "report", "provenance": provenance, "results": sorted_results(results)},
        )
        return path
    if suffix == ".md":
        from .markdown import write_markdown

        return write_markdown(path, results, provenance)
    if suffix in (".html", ".htm"):
        from . import model as report_model
        from .html import write_page

        model = report_model.from_session(
            results, provenance, thumbnails=thumbnails, store=store, current_run=current_run
        )
        return write_page(path, model, thumb=thumb)
    raise ValueError(f"--gen-report: expected a path ending in .html, .json or .md, got {path}")
