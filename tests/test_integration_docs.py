"""Every integration snippet in the docs runs as written (each in a fresh process, in a temp folder)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # for the importorskip below; Keras reads it on import
ROOT = Path(__file__).resolve().parents[1]
#: (document, section heading, packages the section needs): the README sections per integration
SECTIONS = [
    ("README.md", "scikit-learn", ["sklearn"]),
    ("README.md", "Keras Tuner", ["keras", "keras_tuner", "torch"]),
    ("docs/integrations.md", "Keras Tuner", ["keras", "keras_tuner", "torch"]),
    ("README.md", "PyTorch", ["torch"]),
    ("README.md", "XGBoost", ["xgboost"]),
    ("README.md", "LightGBM", ["lightgbm"]),
    ("README.md", "Experiment tracking: MLflow, W&B, TensorBoard",
     ["mlflow", "wandb", "torch", "tensorboard"]),
]


def snippets(path: str | Path, heading: str) -> list[str]:
    """The ```python blocks of the section titled ``heading`` (any level) in a Markdown file.

    The section runs to the next heading of the same or a higher level.
    """
    text = Path(path).read_text()
    lines = text.splitlines()
    start = level = None
    for i, line in enumerate(lines):
        match = re.match(r"^(#+)\s+(.*?)\s*$", line)
        if match and start is None and match.group(2) == heading:
            start, level = i + 1, len(match.group(1))
        elif match and start is not None and len(match.group(1)) <= level:
            lines = lines[start:i]
            break
    else:
        if start is None:
            raise ValueError(f"{path}: no section titled {heading!r}")
        lines = lines[start:]
    return re.findall(r"^```python\n(.*?)^```", "\n".join(lines) + "\n", flags=re.S | re.M)


def test_extractor_reads_one_section_only(tmp_path):
    doc = tmp_path / "d.md"
    doc.write_text("# A\n## B\n```python\nb = 1\n```\n### B.1\n```python\nb1 = 1\n```\n## C\n"
                   "```python\nc = 1\n```\n```bash\nls\n```\n")
    assert snippets(doc, "B") == ["b = 1\n", "b1 = 1\n"]
    assert snippets(doc, "C") == ["c = 1\n"]
    with pytest.raises(ValueError, match="no section titled 'D'"):
        snippets(doc, "D")


@pytest.mark.parametrize("doc, heading, needs", SECTIONS, ids=[s[1] for s in SECTIONS])
def test_snippet_runs(doc, heading, needs, tmp_path):
    for package in needs:
        pytest.importorskip(package)
    blocks = snippets(ROOT / doc, heading)
    assert blocks, f"{doc}: section {heading!r} has no python snippet"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "KERAS_BACKEND": "torch", "OMP_NUM_THREADS": "1"}
    for block in blocks:
        done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{heading} snippet failed:\n{done.stderr[-3000:]}"
        assert done.stdout.strip(), "each snippet prints what it found"
        if heading == "Keras Tuner":
            shows_the_values_trials_ran_with(done.stdout)


def shows_the_values_trials_ran_with(stdout: str) -> None:
    """Keras Tuner's best hyperparameters hold the learning rate a trial ran with, not its unit number."""
    shown = ("best: ", "trials: ")
    lines = dict(line.split(": ", 1) for line in stdout.splitlines() if line.startswith(shown))
    best, trials = ast.literal_eval(lines["best"]), ast.literal_eval(lines["trials"])
    assert best["lr"] in [lr for _, _, lr in trials], (best, trials)


def test_import_shoal_loads_no_framework():
    frameworks = ["sklearn", "keras", "keras_tuner", "torch", "xgboost", "lightgbm", "tensorflow", "mlflow",
                  "wandb", "tensorboard"]
    code = (
        "import sys, shoal\n"
        "shoal.Study, shoal.Float, shoal.samplers, shoal.integrations\n"
        f"print([m for m in {frameworks!r} if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
