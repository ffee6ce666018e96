"""A pytest session under torchrun (2 CPU ranks, gloo) is one logical session equal to a plain one.

Same recorded values, one run file, each baseline written once (by rank 0), seeds shared out
between the ranks, and the same exit status on every rank. Toy extractor and generator
(tests/toy.py): the cost is torchrun's start-up.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from test_distributed_build_ref import torchrun
from toy import project_conftest

CONFTEST = project_conftest(
    extra="""
@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    rank = os.environ.get("RANK", "single")
    (session.config.rootpath / f"status_{rank}.txt").write_text(str(int(session.exitstatus)))
"""
)

TESTS = """
import os
from pathlib import Path

from toy import toy_images
from pytest_genquality import assert_fid_below, assert_no_regression


def sample(seeds, prompts, device):
    with open(Path(__file__).parent / f"calls_{os.environ.get('RANK', 'single')}.txt", "a") as log:
        log.write(" ".join(map(str, seeds)) + "\\n")
    return toy_images(seeds, shift=0.1)


def test_fid(generate, ref, extractor):
    batch = generate(sample, seeds=range(40), batch_size=6)
    assert batch.seeds == list(range(40))
    assert_fid_below(batch, ref, 100.0, extractor=extractor)


def test_paired(generate):
    assert_no_regression(generate(sample, seeds=range(8), batch_size=3), "max_abs", max_value=1.0)


def test_fails_on_every_rank(generate, ref, extractor):
    assert_fid_below(generate(sample, seeds=range(10, 20), batch_size=4), ref, 1e-9, extractor=extractor)
"""


def make_project(folder: Path) -> Path:
    folder.mkdir()
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_quality.py").write_text(TESTS)
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider --gen-device=cpu\n")
    return folder


def plain_pytest(folder: Path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENQUALITY_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=folder, capture_output=True, text=True, timeout=300, env=env
    )


def session_under_torchrun(folder: Path, *args):
    for status in folder.glob("status_*.txt"):
        status.unlink()
    done = torchrun("-m", "pytest", "--rootdir", folder, folder, *args)
    statuses = {path.stem: path.read_text() for path in folder.glob("status_*.txt")}
    return done, statuses


def recorded(folder: Path) -> list[list]:
    runs = sorted((folder / ".genquality" / "runs").glob("*.json"))
    return [
        sorted((r["test"], r["key"], r["value"], r["n"], r["verdict"]) for r in json.loads(run.read_text())["results"])
        for run in runs
    ]


def baselines(folder: Path) -> dict:
    stored = json.loads((folder / ".genquality" / "baselines" / "test_quality.py.json").read_text())["tests"]
    return {
        node: {key: [entry["value"] for entry in lanes.values()] for key, lanes in metrics.items()}
        for node, metrics in stored.items()
    }


def test_two_ranks_make_one_session_equal_to_one_process(tmp_path):
    one = make_project(tmp_path / "one")
    single = plain_pytest(one, "--update-refs")
    assert single.returncode == 1, single.stdout[-3000:]
    assert "1 failed, 2 passed" in single.stdout

    two = make_project(tmp_path / "two")
    done, statuses = session_under_torchrun(two, "--update-refs")
    assert statuses == {"status_0": "1", "status_1": "1"}, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode != 0
    assert "rank 0 of 2" in done.stdout and "rank 1 of 2" in done.stdout

    calls = {rank: (two / f"calls_{rank}.txt").read_text().split("\n") for rank in (0, 1)}
    assert calls[0][0] == "0 1 2 3 4 5" and calls[1][0] == "6 7 8 9 10 11"  # whole batches dealt round-robin
    fid_calls = calls[0][:4] + calls[1][:3]  # 7 batches of 6: 4 on rank 0, 3 on rank 1
    shared = sorted(int(seed) for line in fid_calls for seed in line.split())
    assert shared == list(range(40))  # test_fid: every seed made once

    assert recorded(two) == recorded(one) and len(recorded(two)) == 1  # one run file, the same values
    assert baselines(two) == baselines(one)
    assert set(baselines(two)) == {"test_quality.py::test_fid", "test_quality.py::test_paired"}
    images = list((two / ".genquality" / "baselines" / "images").rglob("*.png"))
    assert len(images) == 8
    assert not list((two / ".genquality").rglob("*.tmp*"))

    done, statuses = session_under_torchrun(two)
    assert statuses == {"status_0": "1", "status_1": "1"}, done.stdout[-3000:] + done.stderr[-3000:]
    values = [[result[:4] for result in run] for run in recorded(two)]
    assert len(values) == 2  # checked against the baselines: same values
    assert [value for value in values[1] if "test_paired" not in value[0]] == values[0]
    assert ("test_quality.py::test_paired", "max_abs@paired", 0.0, 8) in values[1]  # recorded once a baseline exists
    assert [result[4] for result in recorded(two)[1]] == [
        "no-baseline",
        "pass",
        "pass",
    ]  # it failed under --update-refs
    assert done.stdout.count("1 failed, 2 passed") == 2


def test_a_recorder_that_is_not_the_writer_writes_nothing(tmp_path):
    """torchrun ranks other than 0 record the same results but leave the store to rank 0."""
    from pytest_genquality.settings import RunSettings
    from pytest_genquality.store import Store
    from pytest_genquality.checks.run_state import Recorder

    store_dir = tmp_path / "store"
    for writer in (False, True):
        recorder = Recorder(
            RunSettings(store_dir=store_dir, update_refs=True), Store(store_dir), "cpu", tmp_path, writer=writer
        )
        context = recorder.start_test("t.py::a", "t.py")
        context.pending_entries["fid@real"] = {"cpu": {"value": 1.0, "n": 4}}
        context.results.append(type("Result", (), {"as_dict": lambda self: {"test": "t.py::a", "value": 1.0}})())
        recorder.finish_test(passed=True)
        run_file = recorder.finish_session()
        assert recorder.results == [{"test": "t.py::a", "value": 1.0}]
        assert (run_file is not None) == writer
        assert store_dir.exists() == writer
