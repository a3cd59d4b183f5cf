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
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_samplers_never_import_schedulers() -> None:
    """A pairing of a sampler with a scheduler (``shoal.bohb``) lives in shoal.presets, above both."""
    for path in sorted((SRC / "samplers").rglob("*.py")):
        bad = sorted(n for n in imported(path) if (n + ".").startswith("shoal.schedulers."))
        assert not bad, f"{path.relative_to(SRC)} imports {bad}"
