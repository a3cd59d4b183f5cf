"""What the conformance tests share: a space, typed configs, helpers and the code their processes run."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest

from ...storage import Storage
from ...trial import Trial, TrialState

QUEUED, RUNNING, PAUSED = TrialState.QUEUED, TrialState.RUNNING, TrialState.PAUSED
COMPLETE, FAILED, PRUNED, STALE = (
    TrialState.COMPLETE,
    TrialState.FAILED,
    TrialState.PRUNED,
    TrialState.STALE,
)
FINISHED = (COMPLETE, FAILED, PRUNED, STALE)

SPACE = {
    "lr": {"type": "float", "low": 0.0001, "high": 1.0, "scale": "log"},
    "opt": {"type": "choice", "values": ["adam", "sgd", 1, "1", 1.0, True, None]},
    "beta1": {"type": "float", "low": 0.8, "high": 0.99, "when": {"opt": ["adam"]}},
}

TYPED_CONFIG = {
    "int": 3,
    "float_whole": 3.0,
    "float": 0.1,
    "tiny": 1e-300,
    "huge_int": 2**62 + 1,
    "negative": -7,
    "true": True,
    "false": False,
    "none": None,
    "str_one": "1",
    "int_one": 1,
    "float_one": 1.0,
    "bool_one": True,
    "empty": "",
    "unicode": "Adam·β₁ — 学习率 🐟",
    "ключ": "значение",
    "quote": 'a "b" \\ c',
}


# -- helpers, also for a backend's own tests ----------------------------------------------------


def new_study(storage: Storage, name: str = "s", direction: str = "minimize"):
    """A study on ``SPACE`` (its sampler description is arbitrary text to storage)."""
    return storage.create_study(name, direction, SPACE, "Random(seed=0)")


def add(storage: Storage, study_id: int, state: TrialState = RUNNING, x: float = 0.5, **kwargs) -> Trial:
    """A new trial with config and unit ``{"x": x}``."""
    return storage.create_trial(study_id, state, {"x": x}, {"x": x}, **kwargs)


def finish(storage: Storage, trial, state: TrialState = COMPLETE, value: float | None = 1.0, error=None):
    """Move a RUNNING trial to a finished state."""
    return storage.set_state(trial.trial_id, RUNNING, state, value=value, error=error)


def numbers(trials) -> list[int]:
    return [t.number for t in trials]


def racer_box(index: int) -> dict[str, tuple[float, float]]:
    """A box for racing writer ``index``: its own bounds and one dimension only it writes."""
    return {"x": (index / 100, 0.5 + index / 100), "y": (0.0, index / 10), f"only{index}": (0.5, 0.5)}


def run_threads(target: Callable[[int], Any], n: int) -> None:
    """Run ``target(i)`` for i in range(n) on n threads; fail if one hangs."""
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"


def run_processes(target: Callable[..., None], args_for: Callable[[int], tuple], n: int) -> list:
    """Start n fresh interpreters (spawn: nothing inherited) running ``target(*args_for(i), barrier,
    results)`` and collect what each puts on ``results``: ``("ok", detail)`` or ``("error", text)``.

    ``target`` and the arguments must be picklable (``target`` a module-level function)."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_for(i), barrier, results)) for i in range(n)]
    for p in procs:
        p.start()
    out = []
    try:
        for _ in range(600):  # a generous bound against a hang; a crashed process ends it at once
            try:
                out.append(results.get(timeout=0.5))
            except queue.Empty:
                if all(p.exitcode is not None for p in procs):
                    break
            if len(out) == n:
                break
        if len(out) < n:
            codes = [p.exitcode for p in procs]
            pytest.fail(f"only {len(out)} of {n} processes reported (exit codes {codes}): {out}")
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    errors = [detail for status, detail in out if status != "ok"]
    assert errors == [], errors
    return [detail for _, detail in out]


# -- what the processes of the multi-process tests run ------------------------------------------


def _claim_worker(opener: Callable[[], Storage], study_id: int, barrier, results) -> None:
    """Claim queued trials until none is left; report the numbers claimed."""
    try:
        storage = opener()
        try:
            driver = storage.register_driver("proc", os.getpid())
            barrier.wait(60)
            got = []
            while (trial := storage.claim_queued(study_id, driver)) is not None:
                assert trial.state == RUNNING
                got.append(trial.number)
            results.put(("ok", got))
        finally:
            storage.close()
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        results.put(("error", repr(exc)))


def _write_worker(
    opener: Callable[[], Storage], study_name: str, index: int, n: int, barrier, results
) -> None:
    """Open the storage (creating the schema if needed) and write n finished trials with reports."""
    try:
        storage = opener()
        barrier.wait(60)
        try:
            study_id = storage.get_study(study_name).study_id
            written = []
            for k in range(n):
                trial = storage.create_trial(
                    study_id, RUNNING, {"writer": index, "k": k}, {"k": k / n}, claim=f"{index}:{k}"
                )
                storage.add_report(trial.trial_id, 0, float(k))
                storage.set_state(trial.trial_id, RUNNING, COMPLETE, value=float(index * 1000 + k))
                written.append(trial.number)
            results.put(("ok", written))
        finally:
            storage.close()
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        results.put(("error", repr(exc)))


def _box_worker(opener: Callable[[], Storage], study_id: int, index: int, barrier, results) -> None:
    """Write this process's box for round 0 at the same moment as the others; report what it reads."""
    try:
        storage = opener()
        try:
            barrier.wait(60)
            storage.add_round_box(study_id, 0, racer_box(index))
            results.put(("ok", storage.read_round_boxes(study_id)))
        finally:
            storage.close()
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        results.put(("error", repr(exc)))


def _opener_for_processes(storage: Storage, opener: Callable[[], Storage] | None) -> Callable[[], Storage]:
    """The ``storage_opener`` a multi-process test sends to its processes (skip: the storage is not
    shared; fail: it is, but no picklable opener was given)."""
    if not storage.shared:
        pytest.skip(f"{type(storage).__name__} is not shared between processes (its shared is False)")
    if opener is None:
        pytest.fail(
            f"{type(storage).__name__} is shared between processes, so the multi-process tests need the "
            "storage_opener fixture: a picklable callable that opens another connection to the storage "
            "of the storage fixture (e.g. functools.partial(MyStorage, url))",
            pytrace=False,
        )
    try:
        pickle.dumps(opener)
    except Exception as exc:  # noqa: BLE001 - any reason it cannot travel is reported as is
        why = str(exc)
    else:
        return opener
    pytest.fail(
        f"storage_opener {opener!r} cannot be sent to another process ({why}); make it a module-level "
        "function or a functools.partial of one",
        pytrace=False,
    )
