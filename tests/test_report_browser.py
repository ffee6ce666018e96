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
    pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                       reason=f"needs Chromium at {CHROMIUM} (Debian: apt-get install -y chromium)"),
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
    screenshot = tmp_path / "report.png"   # kept under the test's tmp dir for a look after a failure
    chromium(report, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1280,2000")
    image = np.asarray(Image.open(screenshot).convert("RGB"))
    assert image.shape == (2000, 1280, 3)
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) > 2000, f"only {len(colours)} colours: the page looks blank"

    # The failing test's grid starts a few hundred pixels down; below the summary and charts the
    # screen is filled with toy images: many colours in every band of rows.
    band_colours = [len(np.unique(image[top:top + 100].reshape(-1, 3), axis=0)) for top in range(900, 2000, 100)]
    assert min(band_colours) > 300, band_colours
    fail_red = np.array([0xC6, 0x28, 0x28])
    bar = (np.abs(image[900:, :60].astype(int) - fail_red).sum(axis=2) < 30).any(axis=1)
    assert bar.mean() > 0.95, "the section in view is the failing test's (red bar down its left edge)"

    dom = parse_page("<!DOCTYPE html>" + chromium(report, tmp_path / "profile2", "--dump-dom").split(">", 1)[1])
    assert dom.sections[0] == "test-0" and NODE_A in dom.section_text["test-0"]
    assert len(dom.in_section("test-0", "img", class_="generated")) == 64
    assert len(dom.in_section("test-0", "img", class_="difference")) == 64
