"""The generation progress bar: shown only for long runs, silent when disabled."""

from __future__ import annotations

import io

import torch

from pytest_genquality.generation.engine import make_generate
from pytest_genquality.generation.progress import TextProgressBar, progress_bar


class FakeClock:
    def __init__(self, *times):
        self.times = list(times)

    def __call__(self):
        return self.times.pop(0)


def test_text_bar_waits_for_the_delay_then_draws():
    stream = io.StringIO()
    bar = TextProgressBar(8, desc="generate", file=stream, delay=2.0, clock=FakeClock(0.0, 1.0, 3.0))
    bar.update(4)
    assert stream.getvalue() == ""
    bar.update(4)
    bar.close()
    assert stream.getvalue() == "\rgenerate: 8/8 images [3s]\n"


def test_short_runs_leave_no_trace():
    stream = io.StringIO()
    bar = TextProgressBar(2, desc="generate", file=stream, delay=2.0, clock=FakeClock(0.0, 0.5))
    bar.update(2)
    bar.close()
    assert stream.getvalue() == ""


def test_disabled_progress_writes_nothing():
    stream = io.StringIO()
    with progress_bar(4, desc="generate", enabled=False, delay=0.0, file=stream) as advance:
        advance(4)
    assert stream.getvalue() == ""


def test_tqdm_bar_is_used_when_installed():
    stream = io.StringIO()
    with progress_bar(4, desc="generate tiny", enabled=True, delay=0.0, file=stream) as advance:
        advance(2)
        advance(2)
    assert "generate tiny" in stream.getvalue() and "/4 [" in stream.getvalue()


def test_minimal_bar_without_tqdm():
    stream = io.StringIO()
    with progress_bar(3, desc="generate", enabled=True, delay=0.0, file=stream, use_tqdm=False) as advance:
        advance(3)
    assert stream.getvalue().startswith("\rgenerate: 3/3 images") and stream.getvalue().endswith("\n")


def test_generate_with_progress_off_prints_nothing(capsys):
    def sampler(seeds, prompts, device):
        return torch.zeros(len(seeds), 3, 2, 2, dtype=torch.uint8)

    make_generate(torch.device("cpu"), show_progress=False)(sampler, seeds=range(4), batch_size=1)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
