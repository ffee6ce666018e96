"""Make docs/report.png: a screenshot of the HTML report of the digits suite catching a regression.

    python examples/make_report_screenshot.py [--out docs/report.png] [--variant undertrained]

It copies the digits suite (its trained model, classifier and held-out reference) into a
throw-away git repository and runs it as a team would on successive commits: the committed
model with ``--update-refs`` (the baselines, including the paired baseline images), two quiet
sessions, then the regressed model (``--digits-variant``) with ``--gen-report=report.html``.
The report is photographed with headless Chromium (Debian package ``chromium``) and reduced to
a 256-colour palette to stay small in the repository. About two minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
CHROMIUM = "/usr/bin/chromium"
SUITE_FILES = ["conftest.py", "pytest.ini", "demo_tokenizer.py"]


def copy_suite(project: Path) -> None:
    """The digits suite, its shared conftest and its reference statistics; no baselines (made fresh)."""
    for name in SUITE_FILES:
        shutil.copy(EXAMPLES / name, project / name)
    shutil.copytree(EXAMPLES / "digits_suite", project / "digits_suite", ignore=shutil.ignore_patterns("__pycache__"))
    refs = project / ".genquality" / "refs"
    refs.mkdir(parents=True)
    for path in (EXAMPLES / ".genquality" / "refs").glob("digits-held-out.*"):
        if path.suffix in (".json", ".npz"):
            shutil.copy(path, refs / path.name)


def next_commit(project: Path, message: str) -> None:
    """A new (empty) commit per session, so the history charts are labelled by commit as in a real repo."""
    git = ["git", "-c", "user.name=example", "-c", "user.email=example@localhost", "-C", str(project)]
    subprocess.run(git + ["add", "conftest.py", "pytest.ini", "digits_suite"], check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", message], check=True)


def run_pytest(project: Path, message: str, *args: str) -> None:
    next_commit(project, message)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    environment.pop("GITHUB_STEP_SUMMARY", None)
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "digits_suite", *args],
        cwd=project,
        env=environment,
        stdout=subprocess.DEVNULL,
        check=False,
    )


def make_report(project: Path, variant: str) -> Path:
    """Baseline, two quiet sessions, then the regression with the HTML report."""
    copy_suite(project)
    subprocess.run(["git", "init", "-q", "-b", "main", str(project)], check=True)
    run_pytest(project, "train the digits model", "--update-refs")
    for message in ("refactor the data loader", "tidy the sampler"):
        run_pytest(project, message)
    run_pytest(project, f"regression: {variant}", f"--digits-variant={variant}", "--gen-report=report.html")
    return project / "report.html"


def screenshot(page: Path, out: Path, profile: Path) -> None:
    raw = profile.parent / "raw.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            f"--user-data-dir={profile}",
            f"--screenshot={raw}",
            "--window-size=1280,1150",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
    )
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(raw) as image:
        image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(out, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "report.png"))
    parser.add_argument("--variant", default="undertrained", help="the regression to show (--digits-variant)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"needs Chromium at {CHROMIUM} (Debian: apt-get install -y chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "project"
        project.mkdir()
        page = make_report(project, args.variant)
        screenshot(page, Path(args.out), Path(folder) / "profile")
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
