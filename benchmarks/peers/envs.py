"""One virtual environment per peer group (Ax, HEBO, SMAC3), apart from shoal's own ``.venv``.

    python benchmarks/peers/envs.py                 # create or update all three under .tmp/peer-envs
    python benchmarks/peers/envs.py smac hebo       # only these
    python benchmarks/peers/envs.py --check         # say which are ready, create nothing

The peers pin libraries that clash with shoal's (HEBO wants numpy < 1.25), so each group gets its own
env, built from ``requirements/GROUP.txt``; its jobs run there as subprocesses (``peer_runner.py``).
``SHOAL_PEER_ENVS`` moves the envs' folder (default ``.tmp/peer-envs`` in the repository).
An env is ready when its stamp file matches its requirements file's hash, so editing a pin rebuilds it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
REQUIREMENTS = HERE / "requirements"
#: Peer group -> the optimizer names that run in its env.
GROUPS = {"ax": ("ax",), "hebo": ("hebo",), "smac": ("smac",)}
CREATE_COMMAND = "python benchmarks/peers/envs.py"
#: Set (to the group) in a peer job's subprocess, which runs the adapter itself instead of dispatching.
INSIDE = "SHOAL_PEER_ENV_INSIDE"


def root() -> Path:
    """The folder holding the peer envs."""
    return Path(os.environ.get("SHOAL_PEER_ENVS") or REPO / ".tmp" / "peer-envs")


def group_of(optimizer: str) -> str | None:
    """The env group an optimizer runs in, or None for one that runs in shoal's own env."""
    for group, names in GROUPS.items():
        if optimizer in names:
            return group
    return None


def python(group: str) -> Path:
    """The env's interpreter."""
    return root() / group / "bin" / "python"


def _digest(group: str) -> str:
    text = "".join((REQUIREMENTS / name).read_text() for name in ("common.txt", f"{group}.txt"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stamp(group: str) -> Path:
    return root() / group / ".requirements-sha"


def problem(group: str) -> str | None:
    """Why the group's env cannot run jobs (with the command that fixes it), or None when it is ready."""
    if group not in GROUPS:
        raise ValueError(f"peer group must be one of {sorted(GROUPS)}, got {group!r}")
    fix = f"create it with `{CREATE_COMMAND} {group}` (or `make peer-envs`)"
    if not python(group).exists():
        return f"its env {root() / group} does not exist; {fix}"
    try:
        stamp = _stamp(group).read_text().strip()
    except OSError:
        return f"its env {root() / group} was not finished; {fix}"
    if stamp != _digest(group):
        return f"its env {root() / group} predates requirements/{group}.txt; {fix}"
    return None


def create(group: str, base_python: str = sys.executable) -> None:
    """Create (or update) the group's env and install its pinned requirements."""
    env = root() / group
    if not python(group).exists():
        print(f"creating {env}", flush=True)
        subprocess.run([base_python, "-m", "venv", str(env)], check=True)
    pip = [str(python(group)), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(REQUIREMENTS / f"{group}.txt")], check=True, cwd=REQUIREMENTS)
    _stamp(group).write_text(_digest(group) + "\n")
    print(f"{group}: ready ({python(group)})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="create the peer optimizers' virtual environments")
    parser.add_argument("groups", nargs="*", help=f"which (default all): {', '.join(GROUPS)}")
    parser.add_argument("--check", action="store_true", help="report which envs are ready, create nothing")
    parser.add_argument("--python", default=sys.executable, help="interpreter the envs are made from")
    parser.add_argument("--force", action="store_true", help="reinstall even the envs that are up to date")
    args = parser.parse_args(argv)
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {unknown}; choose from {', '.join(GROUPS)}")
    groups = args.groups or list(GROUPS)
    if args.check:
        for group in groups:
            print(f"{group}: {problem(group) or 'ready'}")
        return 0 if all(problem(g) is None for g in groups) else 1
    for group in groups:
        if args.force or problem(group):
            create(group, args.python)
        else:
            print(f"{group}: up to date ({python(group)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
