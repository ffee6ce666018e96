"""Make docs/report.png: a screenshot of the HTML report of a small example suite.

    python examples/make_report_screenshot.py [--out docs/report.png]

The suite uses the toy extractor and toy images of ``tests/toy.py`` (milliseconds per test, no
weights needed). It records a few sessions as if on successive commits, so the history charts
have points, stores baseline images for the paired grid, lets one test drift, writes
``--gen-report=report.html`` and photographs it with headless Chromium (Debian package
``chromium``). The PNG is reduced to a 256-colour palette to stay small in the repository.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

CONFTEST = f"""
import sys
import pytest
sys.path.insert(0, {str(REPO / "tests")!r})
from toy import ToyExtractor, toy_images
from pytest_genquality import ReferenceStats

@pytest.fixture(scope="session")
def extractor():
    return ToyExtractor()

@pytest.fixture(scope="session")
def ref(extractor):
    return ReferenceStats.from_images(toy_images(range(10000, 10400)), extractor, name="coco-val-2k")
"""

SUITE = """
import os
from toy import toy_images
from pytest_genquality import ImageBatch, assert_fid_below

PROMPTS = ["a red bicycle leaning on a wall", "a bowl of ramen, top view", "a lighthouse at dusk",
           "a cat asleep on a keyboard"]

def test_t2i_quality(ref, extractor):
    toy = toy_images(range(24), shift=float(os.environ.get("EXAMPLE_SHIFT", "0.2")), size=48)
    batch = ImageBatch(toy.images, seeds=toy.seeds, prompts=[PROMPTS[s % 4] for s in toy.seeds])
    assert_fid_below(batch, ref, 28.0, extractor=extractor, max_drift="10%")

def test_unconditional(ref, extractor):
    assert_fid_below(toy_images(range(100, 116), size=48), ref, 28.0, extractor=extractor, max_drift="10%")
"""

T2I_NODE = "test_quality.py::test_t2i_quality"


def next_commit(project: Path, message: str) -> None:
    """A new (empty) commit per session, so the history charts are labelled by commit as in a real repo."""
    git = ["git", "-c", "user.name=example", "-c", "user.email=example@localhost", "-C", str(project)]
    subprocess.run(git + ["add", "conftest.py", "test_quality.py"], check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", message], check=True)


def run_pytest(project: Path, *args: str, shift: float) -> None:
    next_commit(project, f"model change, shift {shift}")
    environment = {**os.environ, "EXAMPLE_SHIFT": str(shift)}
    environment.pop("GITHUB_STEP_SUMMARY", None)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=project,
                   env=environment, stdout=subprocess.DEVNULL, check=False)


def make_report(project: Path) -> Path:
    """Baseline, three quiet sessions, a drifted one with the HTML report."""
    sys.path.insert(0, str(REPO / "tests"))
    from toy import toy_images

    from pytest_genquality.store import Store

    (project / "conftest.py").write_text(CONFTEST)
    (project / "test_quality.py").write_text(SUITE)
    subprocess.run(["git", "init", "-q", "-b", "main", str(project)], check=True)
    run_pytest(project, "--update-refs", shift=0.2)
    baseline = toy_images(range(24), shift=0.2, size=48)
    Store(project / ".genquality").save_images(T2I_NODE, baseline.images, baseline.seeds)
    for shift in (0.21, 0.19, 0.22):
        run_pytest(project, shift=shift)
    run_pytest(project, "--gen-report=report.html", shift=0.3)
    return project / "report.html"


def screenshot(page: Path, out: Path, profile: Path) -> None:
    raw = profile.parent / "raw.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-quic", f"--user-data-dir={profile}", f"--screenshot={raw}", "--window-size=1280,1150",
                    page.as_uri()], check=True, capture_output=True)
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(raw) as image:
        image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(out, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "report.png"))
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"needs Chromium at {CHROMIUM} (Debian: apt-get install -y chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "project"
        project.mkdir()
        page = make_report(project)
        screenshot(page, Path(args.out), Path(folder) / "profile")
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
