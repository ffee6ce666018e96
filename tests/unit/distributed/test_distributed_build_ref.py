"""build-ref under torchrun (2 CPU ranks, gloo) equals the single process; a bad file fails every rank.

One torchrun job runs both commands (tests/unit/distributed/rank_build_ref.py), so the test pays the
launcher's start-up once. Random FID-Inception weights, 32 px images, 2 per batch.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pytest_genquality import settings
from pytest_genquality.cli import main
from pytest_genquality.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reference"))  # test_build_ref
from test_build_ref import write_images

RANK_SCRIPT = Path(__file__).resolve().parent / "rank_build_ref.py"


def torchrun(*args, nproc=2, timeout=300):
    """`torchrun --standalone --nproc-per-node=N ...` as a subprocess; returns the completed process."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        *map(str, args),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    for name in ("GENQUALITY_STORE", "GENQUALITY_DEVICE", "GENQUALITY_OFFLINE", "GENQUALITY_WEIGHTS_DIR"):
        env.pop(name, None)
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, cwd=Path(__file__).resolve().parents[2]
    )


@pytest.fixture
def single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # as each torchrun rank: the features must match bit for bit
    old_settings = settings.configure(None)
    yield
    torch.set_num_threads(previous)
    settings.configure(old_settings)


def test_two_ranks_equal_one_process_and_a_bad_file_fails_every_rank(tmp_path, single_thread):
    from pytest_genquality.features import build_random_inception_weights

    weights = build_random_inception_weights(tmp_path / "weights", seed=0)
    write_images(tmp_path / "good", 7, size=32)  # batches of 2: rank 0 gets 3 (images 0,1,4,5), rank 1 gets 2
    bad = write_images(tmp_path / "bad", 4, size=32)
    bad[3].write_bytes(b"not a png")  # in batch 1: rank 1's
    common = ["--weights", str(weights), "--gen-device", "cpu", "--batch-size", "2", "--workers", "1"]

    assert (
        main(["build-ref", str(tmp_path / "good"), "--name", "real", "--gen-store", str(tmp_path / "one"), *common])
        == 0
    )
    done = torchrun(
        RANK_SCRIPT,
        tmp_path,
        "build-ref",
        tmp_path / "good",
        "--name",
        "real",
        "--gen-store",
        tmp_path / "two",
        *common,
        "--",
        "build-ref",
        tmp_path / "bad",
        "--name",
        "broken",
        "--gen-store",
        tmp_path / "two",
        *common,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]

    assert [rank[0]["code"] for rank in ranks] == [0, 0]
    assert done.stdout.count("wrote ") == 1 and "n=7 from 2 ranks" in done.stdout
    one, two = Store(tmp_path / "one").load_reference("real"), Store(tmp_path / "two").load_reference("real")
    assert two.n == one.n == 7 and two.extractor_id == one.extractor_id
    np.testing.assert_array_equal(two.features, one.features)
    np.testing.assert_allclose(two.mu, one.mu, rtol=1e-10, atol=0)
    np.testing.assert_allclose(two.sigma, one.sigma, rtol=1e-10, atol=1e-10 * np.abs(one.sigma).max())

    assert [rank[1]["code"] for rank in ranks] == [2, 2]
    messages = [rank[1]["stderr"].split("): ", 1)[1] for rank in ranks]
    assert messages[0] == messages[1]
    assert f"rank 1 of 2: {bad[3]}: cannot be read as an image" in messages[0]
    assert "no reference was written" in messages[0]
    assert not [p.name for p in (tmp_path / "two" / "refs").iterdir() if p.name.startswith("broken")]
