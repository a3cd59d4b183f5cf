"""What an open dashboard costs: poll time and size on a large study, and its effect on a running study.

    .venv/bin/python benchmarks/dashboard_polls.py [--trials 5000]
    .venv/bin/python benchmarks/dashboard_polls.py --studies 1000 [--trials-per-study 20]
    .venv/bin/python benchmarks/dashboard_polls.py --big 50000


Prints: the first load of a study's trials, an incremental poll when nothing changed and one after
a few trials finished (milliseconds, bytes); then the ask/tell throughput of a study on the same
SQLite file, alone and while a ``shoal dashboard`` process serves three pages polling every
``--interval`` seconds (the page polls every 1.5 s), with the dashboard's CPU time per poll (alone
and watched alternate, to even out a busy machine). Every process shares the machine's cores: on a
small machine the ratio mostly shows the CPU the polls take, not waiting on locks.

``--studies N`` measures the study list instead (``study_list``): N studies in one SQLite file, the
list's first load (a page of 50, latest activity first), a poll when nothing changed, a poll after
trials finished in 5 studies, a name filter, and the storage's full ``list_studies`` for scale.

``--big N`` instead fills a study of N trials (50,000) and times what a page open on it costs: the
first load and an incremental poll of the study page's API, and, when Playwright and chromium are
there, the page in a browser: the first draw, and redrawing the table (a filter, a sort, a page).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shoal
from shoal.dashboard import Dashboard
from shoal.trial import Trial, TrialState

SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "units": shoal.Int(16, 256),
    "opt": shoal.Choice(["a", "b"]),
}


def fetch(url: str) -> tuple[float, int, dict]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        raw = response.read()
    return (time.perf_counter() - start) * 1000, len(raw), json.loads(raw)



def _time_polls(fetch: Callable[[str], Any], since: str, study: shoal.Study, width: int) -> None:
    """Print the time and size of a poll with nothing changed, then of one after 10 new trials."""
    time.sleep(0.3)  # past the dashboard's read throttle
    ms, size, _ = fetch(since)
    print(f"{'poll, nothing changed:':<{width}}{ms:8.1f} ms  {size:8d} B")
    fill(study, 10)
    time.sleep(0.3)
    ms, size, got = fetch(since)
    label = f"poll after 10 new trials ({len(got['trials'])} rows):"
    print(f"{label:<{width}}{ms:8.1f} ms  {size:8d} B")


def fill(study: shoal.Study, n: int) -> None:
    for i in range(n):
        trial = study.ask()
        for step in range(3):
            trial.report(float(step), step)
        study.tell(trial, float(i))


#: Milliseconds each trial "trains" (a sleep between ask and tell); 0 measures ask/tell alone.
OBJECTIVE_MS = [0.0]


def ask_tell_rate(study: shoal.Study, seconds: float) -> float:
    done, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        trial = study.ask()
        if OBJECTIVE_MS[0]:
            time.sleep(OBJECTIVE_MS[0] / 1000)
        study.tell(trial, 1.0)
        done += 1
    return done / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=1.5, help="seconds between a page's polls")
    parser.add_argument("--objective-ms", type=float, default=0.0, help="each trial sleeps this long")
    parser.add_argument("--big", type=int, default=0, help="time a page on a study of this many trials")
    parser.add_argument("--studies", type=int, default=0, help="measure the study list of this many studies")
    parser.add_argument("--trials-per-study", type=int, default=20)
    args = parser.parse_args()
    if args.big:
        big_table(args.big)
        return
    if args.studies:
        study_list(args.studies, args.trials_per_study)
        return
    OBJECTIVE_MS[0] = args.objective_ms
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        study = shoal.Study("big", SPACE, storage=url, sampler=shoal.samplers.Random(), seed=0)
        fill(study, args.trials)
        with Dashboard(url, port=0) as dashboard:
            base = dashboard.url + "api/studies/big/trials"
            ms, size, first = fetch(base)
            print(f"first load of {args.trials} trials:      {ms:8.1f} ms  {size / 1e6:6.2f} MB")
            _time_polls(fetch, f"{base}?since={first['rev']}&epoch={first['epoch']}", study, 36)

        server = subprocess.Popen(
            [sys.executable, "-m", "shoal", "dashboard", "--storage", url, "--port", "0"],
            stdout=subprocess.PIPE, text=True,
        )
        try:
            address = re.search(r"(http://\S+/)\?token", server.stdout.readline() + server.stdout.readline())
            assert address, "the dashboard printed no address"
            import psutil

            server_cpu = psutil.Process(server.pid)
            alone, watched, polls, cpu = [], [], [0], 0.0
            for _ in range(2):
                alone.append(ask_tell_rate(study, args.seconds))
                before = sum(server_cpu.cpu_times()[:2])
                watched.append(watched_rate(study, address.group(1), args.seconds, args.interval, polls))
                cpu += sum(server_cpu.cpu_times()[:2]) - before
        finally:
            server.terminate()
            server.wait(30)
        states = {t.state for t in study.trials}
        assert states == {TrialState.COMPLETE}, states
    a, w = sum(alone) / len(alone), sum(watched) / len(watched)
    print(f"trials per second ({args.objective_ms:g} ms objective), alone:           {a:8.0f}")
    print(f"trials per second ({args.objective_ms:g} ms objective), 3 pages polling: {w:8.0f}  "
          f"(ratio {w / a:.2f}; each page polls every {args.interval:g} s)")
    print(f"dashboard CPU per poll (trials + header): {cpu / max(polls[0], 1) * 1000:.1f} ms "
          f"over {polls[0]} polls")


def big_table(n: int) -> None:
    """A study of ``n`` trials: the API's first load and polls, and the page's draws in chromium."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'big.db'}"
        study = shoal.Study("big", SPACE, storage=url, sampler=shoal.samplers.Random(), seed=0)
        start = time.perf_counter()
        rng = random.Random(0)
        for i in range(n):  # finished trials stored whole: one transaction each, no sampler
            config = {"lr": 10 ** rng.uniform(-4, 0), "units": rng.randint(16, 256), "opt": rng.choice("ab")}
            study.storage.import_trial(study.id, Trial(
                number=i, state=TrialState.COMPLETE, config=config, unit={}, value=float(i % 1013) / 1013,
                reports=[(0, float(i % 97))]))
        print(f"filled {n} trials in {time.perf_counter() - start:.0f} s")
        with Dashboard(url, port=0) as dashboard:
            base = dashboard.url + "api/studies/big"
            ms, size, first = fetch(base + "/trials")
            print(f"first load of the {n} rows (dashboard's first read): {ms:8.1f} ms  {size / 1e6:6.2f} MB")
            time.sleep(0.3)
            ms, size, _ = fetch(base + "/trials")
            print(f"load of the {n} rows again (another page):         {ms:8.1f} ms  {size / 1e6:6.2f} MB")
            ms, size, _ = fetch(base)
            print(f"the study header:                                  {ms:8.1f} ms  {size:8d} B")
            _time_polls(fetch, f"{base}/trials?since={first['rev']}&epoch={first['epoch']}", study, 51)
            _page_timings(dashboard.url, n)


def _page_timings(url: str, n: int) -> None:
    """The study page in chromium (skipped without Playwright or /usr/bin/chromium)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("page timings skipped: playwright is not installed")
        return
    if not Path("/usr/bin/chromium").exists():
        print("page timings skipped: no /usr/bin/chromium")
        return
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        start = time.perf_counter()
        page.goto(url + "#/s/big")
        page.wait_for_function(f"document.getElementById('trials-title')?.textContent.includes('{n + 10}')",
                               timeout=300_000)
        print(f"page: first draw of the study ({n + 10} trials, 100 rows): "
              f"{(time.perf_counter() - start) * 1000:8.0f} ms")
        timed = {
            "redraw the history plot": "() => { const t = performance.now(); drawChart(S.study); "
                                       "return performance.now() - t; }",
            "redraw the table (sort, page)": "() => { const t = performance.now(); drawTable(S.study); "
                                             "return performance.now() - t; }",
            "filter 'lr < 1e-3, opt = a'": "() => { document.getElementById('filter-expr').value = "
                                          "'lr < 1e-3, opt = a'; const t = performance.now(); "
                                          "drawTable(S.study); return performance.now() - t; }",
            "free-text search 'opt=b'": "() => { document.getElementById('filter-expr').value = ''; "
                                      "document.getElementById('filter-text').value = 'opt=b'; "
                                      "const t = performance.now(); drawTable(S.study); "
                                      "return performance.now() - t; }",
        }
        for what, script in timed.items():
            runs = sorted(page.evaluate(script) for _ in range(3))
            print(f"page: {what:32s} {runs[1]:8.0f} ms (median of 3)")
        browser.close()


def many_studies(url: str, n_studies: int, per_study: int) -> None:
    """``n_studies`` studies of ``per_study`` completed trials each, written in one transaction (a
    driver would take minutes to run them; the dashboard reads the same rows)."""
    import json as _json

    from shoal.storage import SQLStorage
    from shoal.storage.sql_schema import studies, trials

    storage = SQLStorage(url)
    space = _json.dumps(shoal.Space(SPACE).to_dict())
    now = time.time()
    with storage._write() as conn:
        for i in range(n_studies):
            (study_id,) = conn.execute(studies.insert().values(
                name=f"study-{i:05d}", direction="minimize", space=space, sampler="Random()",
                created_at=now - 86400 + i,
            )).inserted_primary_key
            conn.execute(trials.insert(), [
                {"study_id": study_id, "number": n, "state": "COMPLETE",
                 "config": '{"lr":0.1,"units":32,"opt":"a"}', "unit": '{"lr":0.5,"units":0.1,"opt":0.25}',
                  "value": float((i * 7 + n * 13) % 101),
                 "created_at": now - 86400 + i + n, "started_at": now - 86400 + i + n,
                 "finished_at": now - 86400 + i + n + 0.5}
                for n in range(per_study)
            ])
    storage.close()


def study_list(n_studies: int, per_study: int) -> None:
    """Time the study list API on ``n_studies`` studies: first load, polls, a filter."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'many.db'}"
        many_studies(url, n_studies, per_study)
        storage = shoal.storage.get_storage(url)
        start = time.perf_counter()
        storage.list_studies()
        full = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        storage.study_counts()
        counts = (time.perf_counter() - start) * 1000
        with Dashboard(url, port=0) as dashboard:
            base = dashboard.url + "api/studies?limit=50"
            ms, size, first = fetch(base)
            print(f"{n_studies} studies x {per_study} trials")
            _row("first load of the list (50 lines)", ms, size)
            since = f"{base}&since={first['rev']}&epoch={first['epoch']}"
            polls = []
            for _ in range(5):
                time.sleep(0.3)  # past the dashboard's shared-read interval: each poll reads storage
                ms, size, got = fetch(since)
                polls.append(ms)
            assert got["studies"] == [], "nothing changed, yet lines came"
            _row("poll, nothing changed (median of 5)", sorted(polls)[2], size)
            for name in ("study-00999", "study-00998", "study-00500", "study-00010", "study-00001"):
                if int(name[-5:]) < n_studies:
                    study = shoal.Study.load(name, url)
                    study.tell(study.ask(), 0.0)
            time.sleep(0.3)
            ms, size, got = fetch(since)
            _row(f"poll after trials finished in 5 studies ({len(got['studies'])} lines)", ms, size)
            ms, size, got = fetch(base + "&q=study-009")
            _row(f"filter by name ({got['matched']} match)", ms, size)
        _row("storage.study_counts() (what a poll reads)", counts, None)
        _row("storage.list_studies() (every summary)", full, None)


def _row(label: str, ms: float, size: int | None) -> None:
    print(f"  {label:<52} {ms:8.1f} ms" + ("" if size is None else f"  {size:8d} B"))


def watched_rate(study: shoal.Study, url: str, seconds: float, interval: float, polls: list[int]) -> float:
    stop = threading.Event()

    def page() -> None:  # polls like an open page
        rev, epoch = -1, ""
        while not stop.is_set():
            _, _, body = fetch(f"{url}api/studies/big/trials?since={rev}&epoch={epoch}")
            rev, epoch = body["rev"], body["epoch"]
            fetch(f"{url}api/studies/big")
            polls[0] += 1
            stop.wait(interval)

    pages = [threading.Thread(target=page) for _ in range(3)]
    for p in pages:
        p.start()
    try:
        return ask_tell_rate(study, seconds)
    finally:
        stop.set()
        for p in pages:
            p.join()


if __name__ == "__main__":
    main()
