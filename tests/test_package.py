"""The package as a user gets it: ``python -m build`` makes an sdist and a wheel (the wheel built from
the sdist, so a file missing from the sdist fails here), and the wheel goes into a fresh virtual
environment: not editable, no ``PYTHONPATH``, only the core dependencies. The README's quickstart, the
``shoal`` command and the dashboard's bundled page then run from that environment.

The build fetches hatchling and the install fetches the core dependencies from the package index pip
is configured with, as ``pip install shoal`` would. ``SHOAL_TEST_PYTHONS="python3.10 python3.13"``
repeats the install and the runs on those interpreters too. Each must give the same trials as this
source tree; the GP's (the default's) only where numpy and scipy are the same versions: its model fit
and acquisition search follow their floating point (Python 3.10 gets numpy 2.2 and scipy 1.15, whose
GP proposals differ from numpy 2.4 and scipy 1.17's from the first one after the Sobol design, while
Python 3.10 and 3.11 with numpy 2.2 and scipy 1.15 give identical trials).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from conftest import sqlite_url_for

import shoal

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "shoal"
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
CORE = ("numpy", "scipy", "sqlalchemy", "rich", "pyyaml", "cloudpickle", "threadpoolctl")

# The README's quickstart with examples/quickstart.py's stand-in objective (its choice is named
# "optimizer"), once with a seeded Random sampler as in the README and once with the default (Auto:
# a GP at this budget), then the dashboard's page and script served from the installed package.
QUICKSTART = '''
import json, sys, urllib.request
import numpy, scipy
import shoal
from quickstart import objective

space = {
    "lr":    shoal.Float(1e-4, 1.0, scale="log"),
    "beta":  shoal.Float(0.9, 0.999, scale="reverse_log"),
    "units": shoal.Int(32, 256, step=32),
    "optimizer": shoal.Choice(["adam", "sgd"]),
    "beta1": shoal.Float(0.8, 0.99, when={"optimizer": ["adam"]}),
}
storage = sys.argv[1]
out = {"file": shoal.__file__, "version": shoal.__version__}
out["libraries"] = [numpy.__version__, scipy.__version__]
for name, sampler in (("random", shoal.samplers.Random(seed=0)), ("auto", None)):
    study = shoal.Study(name, space, direction="maximize", storage=storage, sampler=sampler, seed=0)
    study.optimize(objective, n_trials=12, show_progress=False)
    out[name] = {
        "best": [study.best.number, study.best.value, study.best.config],
        "trials": [[t.number, t.state.name, t.config, t.value] for t in study.trials],
    }
from shoal.dashboard import Dashboard
with Dashboard(storage, port=0) as dashboard:
    page = urllib.request.urlopen(dashboard.url).read().decode()
    script = urllib.request.urlopen(dashboard.url + "static/app.js").read().decode()
out["dashboard"] = [page, len(script)]
print(json.dumps(out))
'''


def _clean_env() -> dict[str, str]:
    """This environment without what would let a run see the source tree or this virtualenv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {k: v for k, v in env.items() if not k.startswith("SHOAL_")}


def _venv_env() -> dict[str, str]:
    """For runs in the new environment: bytecode may be written there (the install skips compiling all
    of numpy and scipy; each module a run imports is compiled once, by the first run that needs it)."""
    env = _clean_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(args: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env or _clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def _interpreters() -> list[str]:
    extra = os.environ.get("SHOAL_TEST_PYTHONS", "").split()
    return [sys.executable, *extra]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``python -m build`` into a temporary folder: {"wheel": path, "sdist": path}."""
    out = tmp_path_factory.mktemp("dist")
    done = _run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


@pytest.fixture(scope="module", params=_interpreters(), ids=lambda p: Path(p).name)
def venv(request: pytest.FixtureRequest, dist: dict[str, Path],
         tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment (no system site-packages) with the wheel and its core dependencies."""
    where = tmp_path_factory.mktemp("venv") / "env"
    made = _run([request.param, "-m", "venv", "--without-pip", where], cwd=where.parent)
    if made.returncode != 0 and request.param != sys.executable:
        pytest.fail(f"SHOAL_TEST_PYTHONS: {request.param} cannot make a virtual environment: {made.stderr}")
    assert made.returncode == 0, made.stderr
    python = where / "bin" / "python"
    # This environment's pip installs into the new one (pip >= 22.3); --no-compile skips compiling
    # every module of numpy and scipy, most of the install's time (see _venv_env).
    installed = _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-compile",
                      "--disable-pip-version-check", dist["wheel"]], cwd=where.parent, timeout=280)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return where


def _metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(archive.read(name).decode())


def test_wheel_holds_every_module_the_static_files_and_py_typed(dist: dict[str, Path]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    packaged = {n for n in names if n.startswith("shoal/")}
    expected = {
        "shoal/" + p.relative_to(SRC).as_posix()
        for p in SRC.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert packaged == expected
    assert "shoal/py.typed" in packaged
    assert {"shoal/dashboard/static/index.html", "shoal/dashboard/static/app.js"} <= packaged
    assert not any(n.startswith(("tests/", "docs/", "examples/", "benchmarks/")) for n in names)
    assert re.search(r"^shoal = shoal\.cli:main$", entry_points, re.M), entry_points


def test_wheel_metadata_declares_versions_classifiers_and_the_core_dependencies(
    dist: dict[str, Path],
) -> None:
    meta = _metadata(dist["wheel"])
    assert meta["Name"] == "shoal" and meta["Version"] == shoal.__version__
    assert meta["Requires-Python"] == ">=3.10"
    classifiers = meta.get_all("Classifier")
    versions = {c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r".*Python :: 3\.\d+", c)}
    assert versions == set(SUPPORTED)
    assert "Typing :: Typed" in classifiers
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in SUPPORTED  # the suite runs on one
    requires = meta.get_all("Requires-Dist")
    core = {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower() for r in requires if "extra ==" not in r}
    assert core == set(CORE)  # the core install stays light: everything else is an extra
    extras = set(meta.get_all("Provides-Extra"))
    assert {"docs", "dev", "sklearn", "dask", "postgres", "torch", "plot"} <= extras


def test_sdist_holds_what_the_wheel_and_the_tests_are_built_from(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for needed in ("pyproject.toml", "README.md", "ARCHITECTURE.md", "mkdocs.yml", "src/shoal/py.typed",
                   "src/shoal/dashboard/static/index.html", "tests/conftest.py", "docs/demo.md",
                   "examples/quickstart.py", "examples/quickstart.yaml"):
        assert needed in names, needed
    assert not any(n.startswith((".venv/", "site/", "dist/", ".tmp/")) or "__pycache__" in n for n in names)


def _quickstart(python: Path | str, tmp_path: Path, env: dict[str, str]) -> dict:
    work = tmp_path / "quickstart"
    work.mkdir(parents=True)
    (work / "quickstart.py").write_text((ROOT / "examples" / "quickstart.py").read_text())
    (work / "run.py").write_text(QUICKSTART)
    done = _run([python, "run.py", sqlite_url_for(work / "shoal.db")], cwd=work, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_quickstart_runs_from_the_wheel_as_it_does_from_the_source(venv: Path, tmp_path: Path) -> None:
    installed = _quickstart(venv / "bin" / "python", tmp_path / "wheel", _venv_env())
    from_source = {**_clean_env(), "PYTHONPATH": str(ROOT / "src")}
    source = _quickstart(sys.executable, tmp_path / "source", from_source)
    # The installed copy ran, not the source tree: a plain (non-editable) install in site-packages.
    assert Path(installed["file"]).is_relative_to(venv) and "site-packages" in installed["file"]
    assert Path(source["file"]).is_relative_to(ROOT / "src")
    assert installed["version"] == shoal.__version__
    same_libraries = installed["libraries"] == source["libraries"]
    for name in ("random", "auto"):
        trials = installed[name]["trials"]
        assert len(trials) == 12 and all(state == "COMPLETE" for _, state, _, _ in trials)
        number, value, config = installed[name]["best"]
        assert value == max(v for *_, v in trials) and trials[number][2] == config
        if name == "random" or same_libraries:  # same seed, same trials, wheel or source
            assert installed[name] == source[name], name
    page, script_size = installed["dashboard"]
    assert page == (SRC / "dashboard" / "static" / "index.html").read_text()
    assert script_size == len((SRC / "dashboard" / "static" / "app.js").read_text())


def test_cli_runs_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    command = venv / "bin" / "shoal"
    assert command.read_text().startswith(f"#!{venv / 'bin' / 'python'}")
    for name in ("quickstart.py", "quickstart.yaml"):
        (tmp_path / name).write_text((ROOT / "examples" / name).read_text())
    url = sqlite_url_for(tmp_path / "cli.db")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return _run([command, *args], cwd=tmp_path, env=_venv_env())

    version = cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"shoal {shoal.__version__}"
    ran = cli("run", "quickstart.yaml", "--n-trials", "6", "--no-progress", "--storage", url)
    assert ran.returncode == 0, ran.stderr
    assert "study 'quickstart': ran 6 trials (6 complete)" in ran.stdout
    best = cli("best", "quickstart", "--json", "--storage", url)
    assert best.returncode == 0, best.stderr
    stored = shoal.Study.load("quickstart", url)  # read back with the source tree's shoal
    assert len(stored.trials) == 6
    assert json.loads(best.stdout)["value"] == stored.best.value
    assert json.loads(best.stdout)["config"] == stored.best.config
    listed = cli("studies", "--storage", url)
    assert listed.returncode == 0 and "quickstart" in listed.stdout

    missing = cli("run", "nothing-here.yaml", "--storage", url)
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr
    assert "nothing-here.yaml" in missing.stderr
