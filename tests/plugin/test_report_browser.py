"""The HTML report as a person sees it: rendered by headless Chromium, screenshot checked."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from report_helpers import CHROMIUM, CONFTEST, NODE_A, TESTS, chromium, parse_page
from test_report_html import store_baseline_images
from toy import toy_images

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"needs Chromium at {CHROMIUM} (Debian: apt-get install -y chromium)"
    ),
]


@pytest.fixture
def report(pytester, monkeypatch) -> Path:
    monkeypatch.delenv("TOY_SHIFT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_quality=TESTS)
    pytester.runpytest("--update-refs").assert_outcomes(passed=2)
    store_baseline_images(pytester, NODE_A, toy_images(range(80), shift=0.2))
    monkeypatch.setenv("TOY_SHIFT", "0.4")
    pytester.runpytest("--gen-report=report.html").assert_outcomes(failed=1, passed=1)
    return pytester.path / "report.html"


def test_report_renders_with_the_failing_grid_first(report, tmp_path):
    screenshot = tmp_path / "report.png"  # kept under the test's tmp dir for a look after a failure
    chromium(report, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1280,2000")
    image = np.asarray(Image.open(screenshot).convert("RGB"))
    assert image.shape == (2000, 1280, 3)
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) > 2000, f"only {len(colours)} colours: the page looks blank"

    # The failing test's grid starts a few hundred pixels down; below the summary and charts the
    # screen is filled with toy images: many colours in every band of rows.
    band_colours = [len(np.unique(image[top : top + 100].reshape(-1, 3), axis=0)) for top in range(900, 2000, 100)]
    assert min(band_colours) > 300, band_colours
    fail_red = np.array([0xC6, 0x28, 0x28])
    bar = (np.abs(image[900:, :60].astype(int) - fail_red).sum(axis=2) < 30).any(axis=1)
    assert bar.mean() > 0.95, "the section in view is the failing test's (red bar down its left edge)"

    dom = parse_page("<!DOCTYPE html>" + chromium(report, tmp_path / "profile2", "--dump-dom").split(">", 1)[1])
    assert dom.sections[0] == "test-0" and NODE_A in dom.section_text["test-0"]
    assert len(dom.in_section("test-0", "img", class_="generated")) == 64
    assert len(dom.in_section("test-0", "img", class_="difference")) == 64


MEASURE_CHARTS = """
<script>
window.addEventListener("load", () => {
  const problems = [];
  let charts = 0, labels = 0;
  for (const svg of document.querySelectorAll("svg.chart")) {
    charts += 1;
    const frame = svg.getBoundingClientRect();
    const boxes = [...svg.querySelectorAll("text")].map(t => [t.textContent, t.getBoundingClientRect()]);
    labels += boxes.length;
    for (const [text, box] of boxes) {
      if (box.left < frame.left - 0.5 || box.right > frame.right + 0.5 || box.top < frame.top - 0.5 ||
          box.bottom > frame.bottom + 0.5) problems.push("clipped: " + text);
    }
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, p] = boxes[i], [b, q] = boxes[j];
      const overlap = Math.min(p.right, q.right) - Math.max(p.left, q.left) > 0.5 &&
                      Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) > 0.5;
      if (overlap) problems.push("overlap: " + a + " / " + b);
    }
  }
  const out = document.createElement("pre");
  out.id = "layout";
  out.textContent = JSON.stringify({charts, labels, problems});
  document.body.appendChild(out);
});
</script>
"""


def test_chart_labels_are_neither_clipped_nor_overlapping_with_long_numbers_and_many_runs(tmp_path):
    """Real font metrics: a script measures every label of every chart in the rendered page."""
    import json

    from pytest_genquality.report import model as report_model
    from pytest_genquality.report.html import write_page
    from pytest_genquality.store import Store

    store = Store(tmp_path / "store")
    for run in range(12):
        results = [
            {
                "test": "tests/test_q.py::test_kid",
                "metric": "kid",
                "key": "kid@real",
                "value": 68_680.123 + 37.5 * run,
                "n": 64,
                "lane": "cpu/fp32",
                "threshold": 69_400.0,
                "baseline": 69_390.0,
                "verdict": "pass",
                "higher_is_better": False,
            },
            {
                "test": "tests/test_q.py::test_kid",
                "metric": "recall",
                "key": "recall@real",
                "value": 0.41 - 0.001 * run,
                "n": 64,
                "lane": "cpu/fp32",
                "threshold": 1e-7,
                "baseline": 0.41,
                "verdict": "fail" if run == 11 else "pass",
                "higher_is_better": True,
            },
        ]
        store.write_run(results, {"commit": f"{run:07x}abcdef", "time": f"2026-01-{run + 1:02d}T00:00:00+00:00"})
    page = write_page(tmp_path / "dashboard.html", report_model.from_store(store, runs=12))
    measured = tmp_path / "measured.html"
    measured.write_text(
        page.read_text(encoding="utf-8").replace("</body>", MEASURE_CHARTS + "</body>"), encoding="utf-8"
    )

    chromium(page, tmp_path / "profile", f"--screenshot={tmp_path / 'dashboard.png'}", "--window-size=1280,900")
    dom = chromium(measured, tmp_path / "profile2", "--dump-dom")
    layout = json.loads(dom.split('<pre id="layout">')[1].split("</pre>")[0].replace("&amp;", "&"))
    assert layout["charts"] == 2 and layout["labels"] > 12, layout
    assert layout["problems"] == [], layout["problems"]
