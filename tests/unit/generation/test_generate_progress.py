"""Progress of long runs: shown only after a delay, redrawn on a terminal, whole lines in a CI log,
through pytest's terminal reporter so that capture does not hide it, and in `genquality build-ref`."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from pytest_genquality.generation import progress as progress_module
from pytest_genquality.generation.engine import make_generate
from pytest_genquality.generation.progress import Progress, StreamSink, progress_bar


class FakeClock:
    def __init__(self, *times):
        self.times = list(times)

    def __call__(self):
        return self.times.pop(0)


def test_on_a_terminal_the_line_waits_for_the_delay_then_is_redrawn():
    stream = io.StringIO()
    bar = Progress(
        8, desc="generate", sink=StreamSink(stream, is_tty=True), delay=2.0, clock=FakeClock(0.0, 1.0, 3.0, 3.5)
    )
    bar.advance(4)
    assert stream.getvalue() == ""
    bar.advance(4)
    bar.close()
    assert stream.getvalue() == "\rgenerate: 8/8 images [3s]\rgenerate: 8/8 images [4s]\n"


def test_in_a_log_whole_lines_come_every_interval_and_one_at_the_end():
    stream = io.StringIO()
    bar = Progress(
        40,
        desc="build-ref coco",
        sink=StreamSink(stream, is_tty=False),
        delay=2.0,
        interval=10.0,
        clock=FakeClock(0.0, 1.0, 3.0, 8.0, 14.0, 20.0, 21.0, 22.0),
    )
    for done in (5, 10, 15, 20, 30, 40):  # at 1, 3, 8, 14, 20, 21 s
        bar.set_done(done)
    bar.close()  # at 22 s
    assert "\r" not in stream.getvalue()
    assert stream.getvalue().splitlines() == [
        "build-ref coco: 10/40 images [3s]",
        "build-ref coco: 20/40 images [14s]",
        "build-ref coco: 40/40 images [22s]",
    ]


def test_short_runs_leave_no_trace():
    for is_tty in (True, False):
        stream = io.StringIO()
        bar = Progress(2, desc="generate", sink=StreamSink(stream, is_tty=is_tty), delay=2.0, clock=FakeClock(0.0, 0.5))
        bar.advance(2)
        bar.close()
        assert stream.getvalue() == ""


def test_disabled_progress_writes_nothing():
    stream = io.StringIO()
    with progress_bar(4, desc="generate", enabled=False, delay=0.0, file=stream) as progress:
        assert progress is None
    assert stream.getvalue() == ""


def test_generate_with_progress_off_prints_nothing(capsys):
    def sampler(seeds, prompts, device):
        return torch.zeros(len(seeds), 3, 2, 2, dtype=torch.uint8)

    make_generate(torch.device("cpu"), show_progress=False)(sampler, seeds=range(4), batch_size=1)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


PROGRESS_NOW = """
from pytest_genquality.generation import progress

progress.SHOW_AFTER_SECONDS = 0.0  # a test cannot wait minutes for a real model
"""

GENERATING_TEST = """
import torch

def sampler(seeds, prompts, device):
    print("the model's own chatter")
    return torch.zeros(len(seeds), 3, 4, 4, dtype=torch.uint8)

def test_generates(generate):
    assert len(generate(sampler, seeds=range(6), batch_size=2)) == 6
"""


def test_generation_progress_shows_in_a_captured_non_tty_pytest_run(pytester):
    pytester.makeconftest(PROGRESS_NOW)
    pytester.makepyfile(GENERATING_TEST)
    result = pytester.runpytest_subprocess("--gen-device=cpu", "-p", "no:cacheprovider")  # stdout is a pipe: a CI log
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["  generate callable:*sampler: 2/6 images*", "  generate callable:*sampler: 6/6 images*"]
    )
    assert "the model's own chatter" not in result.stdout.str()  # the test's output stays captured


def test_quiet_runs_show_no_progress(pytester):
    pytester.makeconftest(PROGRESS_NOW)
    pytester.makepyfile(GENERATING_TEST)
    result = pytester.runpytest("--gen-device=cpu", "-q")
    result.assert_outcomes(passed=1)
    assert "images [" not in result.stdout.str()


def test_build_ref_shows_progress_when_not_a_tty(tmp_path, monkeypatch, capsys):
    from pytest_genquality.cli import main

    (tmp_path / "colour_features.py").write_text(
        "class Colour:\n"
        "    id = 'colour'\n"
        "    def __init__(self, device='cpu'):\n        pass\n"
        "    def __call__(self, images):\n"
        "        return {'pool': getattr(images, 'images', images).float().mean(dim=(2, 3))}\n"
    )
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(images / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(progress_module, "SHOW_AFTER_SECONDS", 0.0)
    assert (
        main(
            [
                "build-ref",
                "images",
                "--name",
                "c",
                "--extractor",
                "colour_features:Colour",
                "--gen-store",
                "s",
                "--gen-device",
                "cpu",
                "--batch-size",
                "4",
                "--workers",
                "0",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "\r" not in err  # captured stderr is not a terminal: whole lines
    assert "genquality build-ref c: 4/10 images [0s]" in err.splitlines()
    assert "genquality build-ref c: 10/10 images [0s]" in err.splitlines()
