"""The documentation site: ``mkdocs build --strict`` (what ``make docs`` runs) builds docs/, the README,
ARCHITECTURE.md, the benchmark results and the API reference from the docstrings without a warning,
and a broken link, anchor or API reference fails the build."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings_handlers.python")

ROOT = Path(__file__).resolve().parents[1]
#: What the site is built from (mkdocs.yml's docs_dir, hooks, watch and mkdocstrings paths).
SOURCES = ("mkdocs.yml", "README.md", "ARCHITECTURE.md", "docs", "benchmarks/RESULTS.md",
           "benchmarks/peers/figures", "scripts/mkdocs_hooks.py", "src/shoal")


def build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(root / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=root, env=env, capture_output=True, text=True, timeout=240,
    )


def copy_sources(to: Path) -> Path:
    for name in SOURCES:
        source, target = ROOT / name, to / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    return to


@pytest.fixture(scope="module")
def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shoal_mkdocs_hooks", ROOT / "scripts" / "mkdocs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    done = build(ROOT, site)
    assert done.returncode == 0, done.stderr[-5000:]
    assert "WARNING" not in done.stderr, done.stderr
    return site


def test_every_page_is_built(site: Path) -> None:
    docs = [p.relative_to(ROOT / "docs") for p in (ROOT / "docs").rglob("*.md")]
    assert docs
    for page in docs:
        built = page.parent if page.name == "index.md" else page.with_suffix("")
        assert (site / built / "index.html").is_file(), page
    home = re.sub(r"<[^>]+>", "", (site / "index.html").read_text())  # the text, without the markup
    assert "make demo   # creates .venv" in home and "make test   # creates .venv" in home  # the README
    assert "Seven words" in (site / "architecture" / "index.html").read_text()
    results = (site / "benchmarks" / "index.html").read_text()
    figures = sorted(p.name for p in (ROOT / "benchmarks" / "peers" / "figures").glob("*.png"))
    assert figures
    for name in figures:
        assert f'src="figures/{name}"' in results and (site / "benchmarks" / "figures" / name).is_file()


def test_links_out_of_docs_lead_to_the_site_pages(site: Path) -> None:
    home = (site / "index.html").read_text()
    assert 'href="cli/"' in home and 'href="architecture/"' in home and 'href="benchmarks/#parallel"' in home
    assert 'src="img/dashboard-study.png"' in home
    assert 'href="../benchmarks/#parallel"' in (site / "parallel" / "index.html").read_text()


def test_api_reference_comes_from_the_docstrings(site: Path) -> None:
    import shoal
    from shoal.samplers import Auto

    study = (site / "api" / "study" / "index.html").read_text()
    for member in ("optimize", "ask", "tell", "enqueue", "best", "trials"):  # enqueue is inherited
        assert f'id="shoal.Study.{member}"' in study, member
    assert shoal.Study.optimize.__doc__.split("\n")[0].split("``")[0] in study
    samplers = (site / "api" / "samplers" / "index.html").read_text()
    assert 'id="shoal.samplers.Auto"' in samplers and 'id="shoal.samplers.GP"' in samplers
    assert Auto.__doc__.split("(")[0].strip() in samplers
    expected = {
        "space": ("shoal.Space", "shoal.Float", "shoal.Choice"),
        "trial": ("shoal.Trial", "shoal.TrialState", "shoal.TrialPruned"),
        "schedulers": ("shoal.schedulers.ASHA", "shoal.schedulers.PBT", "shoal.bohb"),
        "rules": ("shoal.rules.ReduceOnPlateau", "shoal.rules.Rule"),
        "analysis": ("shoal.importance", "shoal.Importance"),
        "errors": ("shoal.ShoalError", "shoal.StudyNotFound"),
    }
    for page, ids in expected.items():
        html = (site / "api" / page / "index.html").read_text()
        for anchor in ids:
            assert f'id="{anchor}"' in html, (page, anchor)


def test_a_broken_link_or_anchor_fails_the_build(tmp_path: Path) -> None:
    root = copy_sources(tmp_path / "repo")
    with (root / "docs" / "demo.md").open("a") as page:
        page.write("\nSee [the missing page](nowhere.md) and [a heading](cli.md#no-such-heading).\n")
    with (root / "README.md").open("a") as readme:  # a repository file the site does not hold
        readme.write("\nThe script: [demo.py](examples/demo.py).\n")
    done = build(root, tmp_path / "site")
    assert done.returncode != 0
    assert "'demo.md' contains a link 'nowhere.md'" in done.stderr, done.stderr
    assert "'index.md' contains a link 'examples/demo.py'" in done.stderr, done.stderr
    assert "no-such-heading" in done.stderr, done.stderr


def test_a_broken_api_reference_fails_the_build(tmp_path: Path) -> None:
    root = copy_sources(tmp_path / "repo")
    with (root / "docs" / "api" / "errors.md").open("a") as page:
        page.write("\n::: shoal.NoSuchThing\n")
    done = build(root, tmp_path / "site")
    assert done.returncode != 0
    assert "shoal.NoSuchThing could not be found" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("target", "page", "expected"),
    [
        ("docs/cli.md", "README.md", "cli.md"),
        ("docs/img/dashboard-study.png", "README.md", "img/dashboard-study.png"),
        ("ARCHITECTURE.md", "README.md", "architecture.md"),
        ("benchmarks/RESULTS.md#parallel", "README.md", "benchmarks.md#parallel"),
        ("#several-objectives-and-constraints", "README.md", "#several-objectives-and-constraints"),
        ("../benchmarks/RESULTS.md#parallel", "docs/parallel.md", "benchmarks.md#parallel"),
        ("dask.md", "docs/parallel.md", "dask.md"),
        ("../cli.md#the-config-file", "docs/api/index.md", "../cli.md#the-config-file"),
        ("../../README.md", "docs/api/index.md", "../index.md"),
        ("peers/figures/curves-bbob.png", "benchmarks/RESULTS.md", "benchmarks/figures/curves-bbob.png"),
        ("https://example.org/a.md", "README.md", "https://example.org/a.md"),
        ("examples/demo.py", "README.md", "examples/demo.py"),  # not on the site: left for mkdocs to flag
    ],
)
def test_links_are_rewritten_from_the_repository_layout_to_the_site(
    hooks: ModuleType, target: str, page: str, expected: str
) -> None:
    site_page = hooks.site_path(page)
    assert hooks.rewrite_link(target, page, site_page) == expected


def test_links_in_fenced_code_are_left_alone(hooks: ModuleType) -> None:
    markdown = "[a](docs/cli.md)\n\n```python\nx = table[\"y\"](docs/cli.md)\n```\n[b](docs/dask.md)\n"
    out = hooks.rewrite_links(markdown, "README.md", "index.md")
    assert out == "[a](cli.md)\n\n```python\nx = table[\"y\"](docs/cli.md)\n```\n[b](dask.md)\n"
