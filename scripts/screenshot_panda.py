"""Writes docs/img/panda-tweak.png: a running trial's dashboard page after two tweaks.

A trial trains through ``Study.ask`` in this process (so the steps are exact, no timing involved): it
reports a loss per step and saves a checkpoint per step; a person lowers its learning rate after step
6 and raises the batch size after step 11 (each in force from the step after the next report); a
third tweak waits for its next report. The dashboard then
shows the curve with a mark per tweak, the schedule table and the tweak and fork forms.

    PYTHONPATH=src python scripts/screenshot_panda.py [OUT.png]

Needs playwright and /usr/bin/chromium (``bash scripts/browser.sh``).
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import shoal
from shoal.dashboard import Dashboard

OUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "panda-tweak.png"
SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "batch_size": shoal.Choice([32, 64, 128]),
    "dropout": shoal.Float(0.0, 0.5),
    "seed": shoal.Fixed(0),
}


def loss_after(loss: float, config: dict) -> float:
    """One step of a made-up training run: the loss falls to a floor that a lower lr and a larger
    batch bring down."""
    floor = 0.1 + 0.2 * math.log10(config["lr"] / 1e-4) + 3.2 / config["batch_size"]
    return floor + (loss - floor) * 0.6


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="shoal-panda-") as folder:
        shoot(Path(folder), out)
    print(f"wrote {out}")


def shoot(folder: Path, out: Path) -> None:
    url = f"sqlite:///{folder / 'shoal.db'}"
    study = shoal.Study("panda", SPACE, storage=url, checkpoints=str(folder / "ck"), seed=0)
    trial = study.enqueue({"lr": 0.03, "batch_size": 32, "dropout": 0.1, "seed": 0})
    running = study.ask()
    assert running.number == trial.number
    loss = 2.0
    tweaks = {6: {"lr": 3e-4}, 11: {"batch_size": 128}, 15: {"dropout": 0.2}}
    for step in range(16):
        loss = loss_after(loss, running.config)
        running.save({"step": step}, step)
        running.report(loss, step)
        if step in tweaks:  # a person's tweak, delivered with the next report
            study.tweak(running.number, tweaks[step])

    from playwright.sync_api import expect, sync_playwright

    dashboard = Dashboard(url, port=0).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1180, "height": 900})
            page.goto(dashboard.url_with_token + f"#/s/panda/t/{running.number}")
            expect(page.locator("#reports-chart .tweak-mark")).to_have_count(2)
            expect(page.locator("#tweak-form")).to_be_visible()
            expect(page.locator("#fork-form")).to_be_visible()
            page.locator("#view").screenshot(path=str(out))
            browser.close()
    finally:
        dashboard.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
