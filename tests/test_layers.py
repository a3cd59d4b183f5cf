"""The layers of shoal, enforced: every import in src/shoal (function-local and ``TYPE_CHECKING``
ones included) goes down the order, never up and never sideways between peers.

    space, trial, errors, records (and the other leaves) <- storage, execution, stats
        <- samplers, schedulers, rules <- study <- analysis, integrations, config, cli, dashboard

A module may import its own package, any lower layer, and (in the leaf layer and the outer ring
only) a peer of its layer. ARCHITECTURE.md describes the same order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "shoal"

#: group (the part after ``shoal.``) -> layer; lower layers never import higher ones.
LAYERS: dict[str, int] = {
    # 0: leaves, importing nothing of shoal above them
    "_version": 0, "_keywords": 0, "errors": 0, "records": 0, "space": 0, "trial": 0, "direction": 0,
    "seeding": 0, "objectives": 0, "schedules": 0,
    "checkpoints": 0,
    # 1: where trials are kept and run, and numeric cores over trials
    "storage": 1, "execution": 1, "stats": 1,
    # 2: decisions
    "samplers": 2, "schedulers": 2, "rules": 2,
    # 3: the one place that turns decisions into storage writes
    "study": 3,
    # 4: everything a person touches
    "analysis": 4, "integrations": 4, "config": 4, "cli": 4, "dashboard": 4, "presets": 4, "testing": 4,
    "__init__": 4, "__main__": 4, "keras": 4, "sklearn": 4, "xgboost": 4, "lightgbm": 4,
    "mlflow": 4, "wandb": 4, "tensorboard": 4,
}
#: layers whose groups may import each other (leaves are tiny and acyclic; the outer ring composes)
OPEN_LAYERS = {0, 4}
#: upward edges allowed on purpose, each a lazy import inside one function, with the reason
ALLOWED_UPWARD = {
    # ``study.plot`` is an accessor (like pandas' ``DataFrame.plot``): the figures live in analysis
    # and load plotly only when a figure is asked for.
    ("shoal.study.core", "shoal.analysis.plots"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    base = SRC / rel
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported shoal module, line, inside a function) for every import in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    local = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local.update(id(n) for n in ast.walk(fn))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "shoal":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub if _is_module(sub) else target, node.lineno, id(node) in local))
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in local)
                    for a in node.names if a.name.split(".")[0] == "shoal"]
    return out


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _edges() -> list[tuple[str, str, int, bool]]:
    return [
        (_module_name(path), target, line, lazy)
        for path in sorted(SRC.rglob("*.py"))
        for target, line, lazy in _imports(path)
    ]


def test_every_module_belongs_to_a_layer() -> None:
    groups = {_group(_module_name(p)) for p in SRC.rglob("*.py")}
    assert groups - set(LAYERS) == set(), "add the new module or package to LAYERS (and ARCHITECTURE.md)"


def test_no_import_goes_up_or_sideways() -> None:
    wrong = []
    for source, target, line, lazy in _edges():
        if _group(source) == _group(target):
            continue
        here, there = LAYERS[_group(source)], LAYERS[_group(target)]
        if there < here or (there == here and here in OPEN_LAYERS):
            continue
        if (source, target) in ALLOWED_UPWARD and lazy:
            continue
        wrong.append(f"{source}:{line} imports {target} (layer {here} -> {there})")
    assert wrong == []


def test_no_module_imports_the_package_root() -> None:
    rooted = [f"{s}:{line}" for s, t, line, _ in _edges()
              if t == "shoal" and s not in ("shoal", "shoal.__main__")]
    assert rooted == []


def test_the_check_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    """The walker must see imports inside functions and TYPE_CHECKING blocks, or it proves nothing."""
    found = {t for t, _, _ in _imports(SRC / "study" / "handle.py")}
    assert "shoal.study.core" in found  # a TYPE_CHECKING import
    lazy = {(t, is_lazy) for t, _, is_lazy in _imports(SRC / "study" / "core.py")}
    assert ("shoal.analysis.plots", True) in lazy  # a function-local import


@pytest.mark.parametrize("group", ["samplers", "schedulers"])
def test_samplers_and_schedulers_are_peers_that_do_not_know_each_other(group: str) -> None:
    other = {"samplers": "schedulers", "schedulers": "samplers"}[group]
    assert [(s, t) for s, t, _, _ in _edges() if _group(s) == group and _group(t) == other] == []


def test_the_version_lives_in_one_place() -> None:
    import shoal
    from shoal import _version

    assert shoal.__version__ == _version.__version__
    pyproject = (SRC.parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and 'path = "src/shoal/_version.py"' in pyproject
    assert (SRC / "py.typed").is_file()
