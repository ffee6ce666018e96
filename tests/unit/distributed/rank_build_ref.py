"""Run by each rank of `torchrun` in tests/test_distributed_build_ref.py: two build-ref commands in one job.

argv: OUT_DIR then, per command, a '--'-separated genquality argument list. The process group is
started here once (the commands find it started and leave it), so the job pays torchrun's
start-up once. Each rank writes OUT_DIR/rank<R>.json: every command's exit status and stderr.
"""

import contextlib
import io
import json
import sys
from pathlib import Path

import torch

from pytest_genquality import distributed
from pytest_genquality.cli import main

torch.set_num_threads(1)  # as the single-process run it is compared with
out_dir, rest = Path(sys.argv[1]), sys.argv[2:]
commands, current = [], []
for word in rest:
    if word == "--":
        commands.append(current)
        current = []
    else:
        current.append(word)
commands.append(current)

world = distributed.World.from_env()
created = distributed.start(world, "cpu")
results = []
for argv in commands:
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        code = main(argv)
    results.append({"code": code, "stderr": captured.getvalue()})
(out_dir / f"rank{world.rank}.json").write_text(json.dumps(results))
distributed.stop(created)
