"""Refreshes the dashboard screenshots in docs/img/ (``make screenshots``): never edit them by hand.

Three studies of one made-up training task (same space, different strategies) run in this process on
a temporary SQLite file, two worker processes each, so the timeline has two slots and ASHA prunes
some trials. A person's notes are set from Python. Then Chromium (Playwright) opens the dashboard on
the study list, a study page with its table filtered, a pruned trial's page, the comparison of the
three studies, the timeline and the learning curves, and writes one PNG each:

    PYTHONPATH=src python scripts/screenshots.py [OUT_DIR]     # default docs/img

The panda screenshot (``panda-tweak.png``) comes from ``scripts/screenshot_panda.py``, which this
script runs too. Needs playwright and /usr/bin/chromium (``bash scripts/browser.sh``).
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

import shoal
from shoal.dashboard import Dashboard

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "units": shoal.Int(16, 256, scale="log"),
    "opt": shoal.Choice(["adam", "sgd"]),
    "beta1": shoal.Float(0.8, 0.999, scale="reverse_log", when={"opt": ["adam"]}),
}
STRATEGIES = {"shots-random": shoal.samplers.Random, "shots-tpe": shoal.samplers.TPE,
              "shots-auto": None}
EPOCHS = 8


def train(config: dict, trial) -> float:
    """A made-up training curve: the loss falls towards a floor set by lr and units, a little slower
    with sgd; each epoch takes 20 ms so the two workers overlap."""
    floor = 0.05 + 0.3 * abs(math.log10(config["lr"]) + 2.5) / 2.5 + 8.0 / config["units"]
    speed = 0.45 if config["opt"] == "adam" else 0.3
    loss = 2.0
    for epoch in range(1, EPOCHS + 1):
        loss = floor + (loss - floor) * (1.0 - speed)
        time.sleep(0.02)
        trial.report(loss, epoch)
        if trial.should_stop():
            raise shoal.TrialPruned()
    return loss


def fill(url: str) -> None:
    """The three studies, 30 trials each, and the person's notes."""
    for name, sampler in STRATEGIES.items():
        chosen = None if sampler is None else sampler(seed=0)
        study = shoal.Study(name, SPACE, storage=url, seed=0, sampler=chosen,
                            scheduler=shoal.schedulers.ASHA(min_resource=1, max_resource=EPOCHS))
        study.optimize(train, n_trials=30, n_workers=2, show_progress=False)
    auto = shoal.Study.load("shots-auto", storage=url)
    auto.note("## Plan\nSearch **lr** first (the notes rank it first), then units. "
              "ASHA stops the slow learners at rung 1.")
    pruned = max((t for t in auto.trials if t.state == shoal.TrialState.PRUNED), key=lambda t: len(t.reports))
    auto.note("Stopped early, but its curve was still falling: try this *lr* again with more epochs.",
              trial=pruned.number)


def shoot(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # importance and figures take a few seconds on a busy machine
    written: list[Path] = []
    auto = shoal.Study.load("shots-auto", storage=url)
    pruned = next(t for t in auto.trials if t.note)
    dashboard = Dashboard(url, port=0).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def shot(name: str, locator: str = "#view") -> None:
                page.wait_for_timeout(600)  # plotly's transitions settle
                path = out / name
                page.locator(locator).screenshot(path=str(path))
                written.append(path)

            page.goto(dashboard.url_with_token + "#/")
            expect(page.locator("#studies-table tbody tr")).to_have_count(3)
            for name in STRATEGIES:
                page.locator(f'#studies-table input.pick[data-pick="{name}"]').check()
            shot("dashboard-studies.png")

            page.locator("#compare-button").click()
            expect(page.locator("#compare-edf .main-svg").first).to_be_visible()
            shot("dashboard-compare.png")

            page.goto(dashboard.url_with_token + "#/s/shots-auto")
            expect(page.locator("#trials-table tbody tr").first).to_be_visible()
            page.fill("#filter-expr", "opt = adam, lr < 0.01")
            page.wait_for_timeout(400)
            shot("dashboard-study.png")

            for key, name in (("timeline", "dashboard-timeline.png"),
                              ("intermediate", "dashboard-curves.png")):
                page.select_option("#figure-pick", key)
                expect(page.locator("#figure .main-svg").first).to_be_visible()
                shot(name, "#figures")

            page.goto(dashboard.url_with_token + f"#/s/shots-auto/t/{pruned.number}")
            expect(page.locator("#trial-ended")).to_contain_text("pruned")
            shot("dashboard-trial.png")
            browser.close()
    finally:
        dashboard.stop()
    return written


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shoal-shots-") as folder:
        url = f"sqlite:///{Path(folder) / 'shoal.db'}"
        fill(url)
        written = shoot(url, out)
    sys.path.insert(0, str(ROOT / "scripts"))
    import screenshot_panda

    screenshot_panda.main(out / "panda-tweak.png")
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
