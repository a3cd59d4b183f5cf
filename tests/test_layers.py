"""Which parts of shoal may import which: checked on the source, without importing anything."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "shoal"


def imported(path: Path) -> set[str]:
    """The absolute dotted names of the modules ``path`` imports (relative imports resolved)."""
    package = ["shoal", *path.relative_to(SRC).parent.parts]  # where its relative imports start
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)  # ``import shoal`` would be "shoal"
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_samplers_never_import_schedulers() -> None:
    """A pairing of a sampler with a scheduler (``shoal.bohb``) lives in shoal.presets, above both."""
    for path in sorted((SRC / "samplers").rglob("*.py")):
        bad = sorted(n for n in imported(path) if (n + ".").startswith("shoal.schedulers."))
        assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def test_no_module_imports_the_package_root() -> None:
    """Modules take ``__version__`` from the leaf shoal._version: none imports a name of shoal/__init__.py
    (``from . import samplers``, a submodule, is fine)."""
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "__init__.py":
            continue
        for name in imported(path):
            assert name != "shoal", f"{path.relative_to(SRC)} imports the package root"
            if name.startswith("shoal.") and name.count(".") == 1:  # from shoal (or .., .) import NAME
                rest = name.partition(".")[2]
                is_submodule = (SRC / rest).is_dir() or (SRC / f"{rest}.py").is_file()
                assert is_submodule, f"{path.relative_to(SRC)} imports {rest} from the package root"


def test_the_version_lives_in_one_place() -> None:
    import shoal
    from shoal import _version

    assert shoal.__version__ == _version.__version__
    pyproject = (SRC.parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and 'path = "src/shoal/_version.py"' in pyproject
    assert (SRC / "py.typed").is_file()
