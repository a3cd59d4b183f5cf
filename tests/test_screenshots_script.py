"""scripts/screenshots.py, the one way docs/img is refreshed: it runs from a fresh temporary study to
a PNG per dashboard view, so a change to the page that breaks it shows here, not at the next release."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from test_dashboard_browser import _browser_or_reason

ROOT = Path(__file__).resolve().parents[1]
VIEWS = ("dashboard-studies.png", "dashboard-compare.png", "dashboard-study.png", "dashboard-timeline.png",
         "dashboard-curves.png", "dashboard-trial.png", "panda-tweak.png")


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_the_script_writes_every_dashboard_view(tmp_path: Path) -> None:
    reason = _browser_or_reason()
    if reason is not None:
        if os.environ.get("SHOAL_REQUIRE_BROWSER"):
            pytest.fail(f"SHOAL_REQUIRE_BROWSER is set but the screenshots cannot run: {reason}")
        pytest.skip(reason)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshots.py"), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in VIEWS:
        width, height = _png_size(tmp_path / name)
        assert width >= 600 and height >= 200, (name, width, height)
