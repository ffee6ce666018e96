"""--gen-report=report.html end to end: a user's project run with pytester, the page parsed back."""

import json

import numpy as np
import pytest

from report_helpers import CONFTEST, NODE_A, TESTS, decode_data_png, parse_page
from toy import toy_images


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("TOY_SHIFT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_quality=TESTS)
    return pytester


def store_baseline_images(pytester, node_id, batch):
    """What assert_no_regression's --update-refs stores: baselines/images/<node>/<seed>.png."""
    from pytest_genquality.store import Store

    Store(pytester.path / ".genquality").save_images(node_id, batch.images, batch.seeds)


def run_with_report(project, monkeypatch, *args):
    """Baseline both tests, store test_a's images, then worsen test_a and write the HTML report."""
    project.runpytest("--update-refs").assert_outcomes(passed=2)
    store_baseline_images(project, NODE_A, toy_images(range(80), shift=0.2))
    monkeypatch.setenv("TOY_SHIFT", "0.4")
    result = project.runpytest("--gen-report=report.html", *args)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"genquality report: {project.path / 'report.html'}"])
    html = (project.path / "report.html").read_text(encoding="utf-8")
    run_file = sorted((project.path / ".genquality" / "runs").glob("*.json"))[-1]
    return html, json.loads(run_file.read_text())["results"]


def test_page_is_balanced_self_contained_and_holds_the_json_numbers(project, monkeypatch):
    html, results = run_with_report(project, monkeypatch)
    page = parse_page(html)

    sources = [attrs["src"] for tag, attrs, _ in page.elements if tag == "img"]
    assert len(sources) == 64 * 3 + 32, "test_a: generated, baseline, difference per seed; test_b: generated only"
    for src in sources:
        decode_data_png(src)
    external = [
        value
        for _, attrs, _ in page.elements
        for name, value in attrs.items()
        if name in ("src", "href") and not value.startswith(("data:", "#"))
    ]
    assert external == [], "the page must not fetch anything"
    assert not any(tag in ("script", "link") for tag, _, _ in page.elements)

    summary_rows = [attrs for tag, attrs, _ in page.elements if tag == "tr" and "row" in attrs.get("class", "")]
    assert len(summary_rows) == len(results) == 2
    for result in results:  # every number the JSON/run file holds is shown, formatted as in the terminal table
        for number in (result["value"], result["baseline"], result["delta"]):
            assert f"{abs(number):.4g}" in page.text
        assert result["test"] in page.text
    failed = next(r for r in results if r["verdict"] == "fail")
    assert failed["test"] == NODE_A
    assert "worse by" in page.section_text["test-0"], "the failure reason is shown"

    radios = [attrs["id"] for tag, attrs, _ in page.elements if tag == "input" and attrs.get("type") == "radio"]
    assert radios == ["show-all", "show-fail", "show-pass"], "one CSS-only filter per verdict present"
    assert "#show-fail:checked ~ main section.test:not(.has-fail)" in html
    assert "fail (1 metric, 1 test)" in page.text and "all (2 metrics, 2 tests)" in page.text


def test_failing_test_first_with_grid_baselines_heat_maps_and_history(project, monkeypatch):
    project.runpytest().assert_outcomes(failed=2)  # no baseline yet: a first point in the history
    html, _ = run_with_report(project, monkeypatch)
    page = parse_page(html)
    assert page.sections == ["test-0", "test-1"]
    first = page.in_section("test-0", "section")[0]
    assert first["data-verdict"] == "fail" and NODE_A in page.section_text["test-0"]

    figures = page.in_section("test-0", "figure")
    assert [f["data-seed"] for f in figures] == [str(s) for s in range(64)], "first 64 of 80 seeds, in order"
    assert "64 of 80" in page.section_text["test-0"]
    assert "a red bicycle no. 5" in page.section_text["test-0"]
    generated = [decode_data_png(a["src"]) for a in page.in_section("test-0", "img", class_="generated")]
    baselines = [decode_data_png(a["src"]) for a in page.in_section("test-0", "img", class_="baseline")]
    heat_maps = [decode_data_png(a["src"]) for a in page.in_section("test-0", "img", class_="difference")]
    assert len(generated) == len(baselines) == len(heat_maps) == 64
    expected = toy_images(range(64), shift=0.4).images.permute(0, 2, 3, 1).numpy()
    assert np.array_equal(np.asarray(generated[7].convert("RGB")), expected[7]), "16 px images are kept as they are"
    assert all(np.asarray(h).max() > 0 for h in heat_maps), "shift 0.2 -> 0.4 differs everywhere"

    assert page.in_section("test-1", "img", class_="baseline") == [], "test_b has no stored baseline images"
    assert len(page.in_section("test-1", "img", class_="generated")) == 32

    for section in ("test-0", "test-1"):
        assert len(page.in_section(section, "svg")) == 1
        points = [c for c in page.in_section(section, "circle") if c.get("r") == "3.5"]
        assert len(points) == 3, "no-baseline run, --update-refs run, this run"
        assert "threshold 100" in page.section_text[section]


def test_thumbnails_travel_from_xdist_workers_to_the_report(tmp_path):
    """What the plugin does under xdist: worker_payload -> JSON -> merge_worker_payload on the controller."""
    from pytest_genquality.report.model import from_session
    from pytest_genquality.checks.run_state import Recorder
    from pytest_genquality.settings import RunSettings
    from pytest_genquality.store import Store

    settings = RunSettings(store_dir=tmp_path / "store", report_path=tmp_path / "r.html", report_thumb=8)
    worker = Recorder(settings, Store(settings.store_dir), "cpu", tmp_path)
    context = worker.start_test(NODE_A, "test_quality.py")
    worker.keep_thumbnails(context, toy_images(range(5)))
    worker.finish_test(passed=True)
    controller = Recorder(settings, Store(settings.store_dir), "cpu", tmp_path)
    controller.merge_worker_payload(json.loads(json.dumps(worker.worker_payload())))

    assert controller.thumbnails == worker.thumbnails and controller.thumbnails[NODE_A]["total"] == 5
    result = {"test": NODE_A, "key": "fid@real", "metric": "fid", "value": 1.0, "verdict": "pass", "lane": "cpu"}
    model = from_session([result], {}, thumbnails=controller.thumbnails, store=controller.store)
    tiles = model.tests[0].tiles
    assert [t.seed for t in tiles] == [0, 1, 2, 3, 4]
    assert decode_data_png("data:image/png;base64," + tiles[0].generated).size == (8, 8)


def test_bad_thumbnail_size_is_a_usage_error(project):
    result = project.runpytest("--gen-report=report.html", "--gen-report-thumb=huge")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--gen-report-thumb: expected a size in pixels from 8 to 1024, got 'huge'*"])


SHARED_BATCH_TESTS = """
import pytest
from toy import toy_images
from pytest_genquality import assert_fid_below, assert_kid_below

@pytest.fixture(scope="session")
def batch():
    return toy_images(range(40))

@pytest.mark.parametrize("threshold", [100.0, 200.0, 300.0])
def test_fid(batch, ref, extractor, threshold):
    assert_fid_below(batch, ref, threshold, extractor=extractor, max_drift=None)

def test_other(ref, extractor):
    assert_kid_below(toy_images(range(200, 220)), ref, 100.0, extractor=extractor, max_drift=None)
"""


def test_a_batch_shared_by_several_tests_is_shown_once_and_referred_to(pytester, monkeypatch):
    """Issue 22.12: the same 64-image grid was repeated for each of 5 tests sharing one batch."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_shared=SHARED_BATCH_TESTS)
    pytester.runpytest("--update-refs").assert_outcomes(passed=4)
    pytester.runpytest("--gen-report=report.html").assert_outcomes(passed=4)
    page = parse_page((pytester.path / "report.html").read_text(encoding="utf-8"))
    grids = {s: len(page.in_section(s, "img")) for s in page.sections}
    assert sorted(grids.values()) == [0, 0, 20, 40], "the shared batch once, the other test's own batch once"
    owner = next(s for s, count in grids.items() if count == 40)
    owner_id = page.section_text[owner].split()[1]
    for section, count in grids.items():
        if count == 0:
            links = [a["href"] for a in page.in_section(section, "a")]
            text = " ".join(page.section_text[section].split())
            assert links == [f"#{owner}"] and f"the same batch as {owner_id} , shown there" in text


THRESHOLD_TESTS = """
import os
from toy import toy_images
from pytest_genquality import assert_fid_below

def test_q(ref, extractor):
    assert_fid_below(toy_images(range(48)), ref, float(os.environ.get("FID_THRESHOLD", "100")), extractor=extractor)
"""


def test_a_threshold_failure_beside_a_passing_drift_p_names_the_threshold_and_columns_are_explained(
    pytester, monkeypatch
):
    """Issue 22.12: 'fail' sat next to a drift p that passed, and ± / p were not explained."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_quality=THRESHOLD_TESTS)
    pytester.runpytest("--update-refs").assert_outcomes(passed=1)
    monkeypatch.setenv("FID_THRESHOLD", "0.01")
    result = pytester.runpytest("--gen-report=report.html")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*fid@real*fail: above threshold 0.01*"])
    record = json.loads(sorted((pytester.path / ".genquality" / "runs").glob("*.json"))[-1].read_text())["results"][0]
    assert record["verdict"] == "fail" and isinstance(record["noise"], dict), "the drift test ran (and passed)"
    page = parse_page((pytester.path / "report.html").read_text(encoding="utf-8"))
    row = page.text[page.text.index("test_quality.py::test_q") :]
    row = " ".join(row[: row.index("columns")].split())
    assert row.endswith("fail above threshold 0.01"), row
    legend = page.text[page.text.index("columns") :]
    assert "±x is the drift test's seed-noise band" in legend and "p: the drift test's one-sided p-value" in legend
    assert "p < 0.0025" in legend and "a crossed threshold fails whatever p says" in legend
    pytester.runpytest("--gen-report=report.md").assert_outcomes(failed=1)
    markdown = (pytester.path / "report.md").read_text(encoding="utf-8")
    assert "| fail: above threshold 0.01 |" in markdown and "- p: the drift test's one-sided p-value" in markdown
