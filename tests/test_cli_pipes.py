"""A reader that stops early (`shoal trials --csv | head`) ends the command quietly, with no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import shoal
from shoal.samplers import Random

ROOT = Path(__file__).resolve().parents[1]


def test_a_closed_pipe_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'many.db'}"
    study = shoal.Study("many", {"x": shoal.Float(0, 1)}, storage=url, sampler=Random(seed=0))
    study.optimize(lambda config: config["x"], n_trials=3000, show_progress=False)  # more than a pipe buffer
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "shoal.cli", "trials", "many", "--storage", url, "--csv"]
    reader = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert reader.stdout is not None and reader.stderr is not None
    assert reader.stdout.readline().startswith(b"number,state,value,x")
    reader.stdout.close()  # as `head -1` does
    code = reader.wait(timeout=120)
    assert reader.stderr.read() == b""
    assert code == 141  # 128 + SIGPIPE, what a shell reports for a command cut off by `head`
