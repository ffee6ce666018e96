"""`genquality report`: the dashboard of the last N runs, built from synthetic run files alone."""

import json

import numpy as np
import pytest
import torch

from pytest_genquality.cli import main
from pytest_genquality.store import Store
from report_helpers import decode_data_png, parse_page

LANE = "cpu/cpu/fp32/torch-2"


def result(test, value, verdict, *, baseline=None, key="fid@coco"):
    return {
        "test": test,
        "metric": key.split("@")[0],
        "key": key,
        "value": value,
        "n": 64,
        "lane": LANE,
        "threshold": 30.0,
        "baseline": baseline,
        "delta": None if baseline is None else value - baseline,
        "ci": None,
        "noise": None,
        "verdict": verdict,
        "reason": "",
        "higher_is_better": False,
        "seeds": "0..63",
    }


def write_run(store: Store, stamp: str, commit: str, results: list[dict]) -> None:
    store.runs_dir.mkdir(parents=True, exist_ok=True)
    provenance = {
        "commit": commit,
        "dirty": False,
        "branch": "main",
        "time": f"2025-01-0{stamp[-1]}T00:00:00+00:00",
        "lane": LANE,
    }
    (store.runs_dir / f"2025010{stamp[-1]}T000000000000Z_{commit}.json").write_text(
        json.dumps({"schema": 1, "kind": "run", "provenance": provenance, "results": results})
    )


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / ".genquality")
    write_run(
        store,
        "1",
        "aaaaaaa",
        [result("t.py::test_old", 9.0, "pass", baseline=9.0), result("t.py::test_gen", 20.0, "pass", baseline=20.0)],
    )
    write_run(store, "2", "bbbbbbb", [result("t.py::test_gen", 21.0, "pass", baseline=20.0)])
    write_run(
        store,
        "3",
        "ccccccc",
        [
            result("t.py::test_gen", 26.5, "fail", baseline=20.0),
            result("t.py::test_pair", 0.01, "pass", baseline=0.01, key="lpips"),
        ],
    )
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 3, 40, 20), dtype=np.uint8))
    store.save_images("t.py::test_pair", images, [5, 6, 7])
    return store


def build(store, tmp_path, *args) -> str:
    output = tmp_path / "dashboard.html"
    assert main(["report", *args, "-o", str(output), "--gen-store", str(store.root)]) == 0
    return output.read_text(encoding="utf-8")


def test_last_n_runs_newest_result_per_test_with_history(store, tmp_path, capsys):
    page = parse_page(build(store, tmp_path, "--runs", "2"))
    assert "wrote" in capsys.readouterr().out
    section_of = {page.section_text[s].split()[1]: s for s in page.sections}
    assert list(section_of) == ["t.py::test_gen", "t.py::test_pair"], "failure first; test_old is outside the last 2"
    gen = section_of["t.py::test_gen"]
    assert "26.5" in page.section_text[gen] and "+6.5" in page.section_text[gen], "the newest result is shown"
    assert len([c for c in page.in_section(gen, "circle") if c.get("r") == "3.5"]) == 2, "history of the 2 runs"
    runs_table = page.text[page.text.index("Runs (newest first)") :]
    assert runs_table.index("ccccccc") < runs_table.index("bbbbbbb") and "aaaaaaa" not in runs_table


def test_baseline_images_are_shown_where_stored(store, tmp_path):
    page = parse_page(build(store, tmp_path, "--gen-report-thumb", "10"))
    pair = next(s for s in page.sections if "t.py::test_pair" in page.section_text[s])
    images = [decode_data_png(a["src"]) for a in page.in_section(pair, "img", class_="baseline")]
    assert [f["data-seed"] for f in page.in_section(pair, "figure")] == ["5", "6", "7"]
    assert all(image.size == (5, 10) for image in images), "downscaled to 10 px on the longest side"
    assert all(not page.in_section(s, "img") for s in page.sections if s != pair)


def test_markdown_output_and_unreadable_run_file(store, tmp_path, capsys):
    (store.runs_dir / "20250109T000000000000Z_ddddddd.json").write_text("{ truncated")
    output = tmp_path / "dashboard.md"
    assert main(["report", "-o", str(output), "--gen-store", str(store.root)]) == 0
    assert "skipped run file" in capsys.readouterr().err
    text = output.read_text()
    assert text.startswith(
        "### genquality: 1 fail, 1 pass, 1 from older runs (not measured in the newest run, "
        "not counted) — commit `ccccccc` on `main`"
    )
    old_row = next(line for line in text.splitlines() if "t.py::test_old" in line)
    assert "pass (older run aaaaaaa" in old_row


def test_empty_store_and_bad_arguments_are_clear(tmp_path, capsys):
    assert main(["report", "-o", str(tmp_path / "x.html"), "--gen-store", str(tmp_path / "none")]) == 1
    assert "no run files in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--runs", "0"])


def test_a_row_from_an_older_run_is_marked_and_not_counted_as_current(store, tmp_path, capsys):
    """test_old was not measured in the newest run: its row names run aaaaaaa and the header leaves it out."""
    page = parse_page(build(store, tmp_path))
    out = capsys.readouterr().out
    assert "2 metrics of the newest run (+1 from older runs, marked)" in out
    header = page.text[: page.text.index("show:")]
    assert "2 tests, 2 metrics in the newest run: 1 fail, 1 pass" in header
    assert "1 more row from older runs" in header
    rows = [attrs for tag, attrs, _ in page.elements if tag == "tr" and "row" in attrs.get("class", "").split()]
    assert [r["class"] for r in rows] == ["row v-fail", "row v-pass", "row stale v-older"]
    summary = page.text[page.text.index("show:") : page.text.index("Runs (newest first)")]
    old_row = summary[summary.index("t.py::test_old") :]
    assert "older run aaaaaaa (2025-01-01T00:00:00+00:00), not measured in the newest run" in old_row
    assert "older runs (1 metric, 1 test)" in summary and "pass (1 metric, 1 test)" in summary
    old_section = next(s for s in page.sections if "t.py::test_old" in page.section_text[s])
    assert page.section_text[old_section].split()[0:2] == ["older", "run"]
