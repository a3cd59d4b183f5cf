"""GPUs for worker processes: ``optimize(..., devices=["cuda:0", "cuda:1"])`` or ``devices="auto"``.

Each local worker process is started with its own ``CUDA_VISIBLE_DEVICES``, so the objective sees one
GPU (``torch.device("cuda")`` is it) and several workers never fight over one unless asked to
(``workers_per_device``). ``cuda:i`` means what it means in the driver: its i-th visible GPU, so
under a driver started with ``CUDA_VISIBLE_DEVICES=2,3``, ``cuda:0`` is physical GPU 2 and its
workers get ``CUDA_VISIBLE_DEVICES=2``. Workers take the devices round-robin: worker k gets device
``k % len(devices)``, and a worker that is replaced (it died, or was recycled) keeps its slot's device.

On Dask the cluster's workers own their GPUs: ``devices="auto"`` asks Dask for a ``GPU`` worker
resource per trial (``1 / workers_per_device`` of one) instead.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["AUTO", "Device", "plan_devices", "visible_devices"]

AUTO = "auto"
_CUDA = re.compile(r"^cuda:(\d+)$")


@dataclass(frozen=True)
class Device:
    """One GPU a worker may be given: ``label`` is what trials record (``"cuda:1"``), ``visible``
    the ``CUDA_VISIBLE_DEVICES`` value its workers get (``"1"``, or the driver's own entry for it:
    a physical index or a ``GPU-...``/``MIG-...`` UUID)."""

    label: str
    visible: str


def _visible_entries(environ: Mapping[str, str]) -> list[str] | None:
    """The driver's ``CUDA_VISIBLE_DEVICES`` entries (None when it is not set). CUDA reads the list
    up to the first entry it cannot use; ``-1`` (or any negative index) hides every GPU."""
    text = environ.get("CUDA_VISIBLE_DEVICES")
    if text is None:
        return None
    entries: list[str] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry or entry.startswith("-"):
            break
        entries.append(entry)
    return entries


def _torch_count(import_it: bool) -> int | None:
    """How many CUDA devices torch sees (None: torch not imported and ``import_it`` False, or not
    installed)."""
    if "torch" not in sys.modules and not import_it:
        return None
    try:
        import torch
    except ImportError:
        return None
    return int(torch.cuda.device_count())


def visible_devices(environ: Mapping[str, str] | None = None) -> list[Device]:
    """Every GPU the driver sees: its ``CUDA_VISIBLE_DEVICES`` when set, else ``torch.cuda.
    device_count()`` when torch is installed; empty when neither shows one."""
    environ = os.environ if environ is None else environ
    entries = _visible_entries(environ)
    if entries is None:
        count = _torch_count(import_it=True) or 0
        entries = [str(i) for i in range(count)]
    return [Device(f"cuda:{i}", entry) for i, entry in enumerate(entries)]


def _device(given: Any, entries: list[str] | None, count: int | None) -> Device:
    index: int | None = None
    if isinstance(given, int) and not isinstance(given, bool) and given >= 0:
        index = given
    elif isinstance(given, str) and _CUDA.match(given.strip()):
        index = int(_CUDA.match(given.strip()).group(1))  # type: ignore[union-attr]
    if index is None:
        raise ValueError(
            f"devices: {given!r} is not a GPU; give 'cuda:N' or N (e.g. devices=['cuda:0', 'cuda:1']) "
            "or devices='auto'"
        )
    if entries is not None:
        if index >= len(entries):
            seen = f"cuda:0..cuda:{len(entries) - 1}" if entries else "none"
            raise ValueError(
                f"devices: cuda:{index} is not visible: CUDA_VISIBLE_DEVICES="
                f"{','.join(entries)!r} shows {len(entries)} GPU(s) ({seen})"
            )
        return Device(f"cuda:{index}", entries[index])
    if count and index >= count:
        raise ValueError(f"devices: cuda:{index} is not visible: torch sees {count} GPU(s) "
                         f"(cuda:0..cuda:{count - 1})")
    return Device(f"cuda:{index}", str(index))


def resolve(devices: Any, environ: Mapping[str, str] | None = None) -> list[Device]:
    """The GPUs ``devices`` names (``"auto"``, a list of ``"cuda:N"`` or N, or one of them), checked
    against what the driver sees; a ``ValueError`` naming the fix otherwise."""
    environ = os.environ if environ is None else environ
    if isinstance(devices, str) and devices.strip().lower() == AUTO:
        found = visible_devices(environ)
        if not found:
            why = ("CUDA_VISIBLE_DEVICES hides every GPU" if _visible_entries(environ) is not None
                   else "CUDA_VISIBLE_DEVICES is not set, and torch is not installed or sees no CUDA device")
            raise ValueError(
                f"devices='auto': no GPU is visible ({why}); leave devices out to run on the CPU, or "
                "name the GPUs, e.g. devices=['cuda:0']"
            )
        return found
    listed = [devices] if isinstance(devices, (str, int)) else devices
    if not isinstance(listed, Sequence) or isinstance(listed, (bytes, bytearray)) or not listed:
        raise ValueError(
            f"devices must be 'auto' or a non-empty list such as ['cuda:0', 'cuda:1'], got {devices!r}"
        )
    entries = _visible_entries(environ)
    count = None if entries is not None else _torch_count(import_it=False)
    found = [_device(d, entries, count) for d in listed]
    labels = [d.label for d in found]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ValueError(
            f"devices: {', '.join(twice)} is listed twice; list each GPU once and give "
            "workers_per_device=N to put N workers on each"
        )
    return found


def check_per_device(workers_per_device: Any) -> int:
    if (isinstance(workers_per_device, bool) or not isinstance(workers_per_device, int)
            or workers_per_device < 1):
        raise ValueError(f"workers_per_device must be an int >= 1, got {workers_per_device!r}")
    return workers_per_device


def plan_devices(
    devices: Any, n_workers: int | None, workers_per_device: int | None,
    environ: Mapping[str, str] | None = None,
) -> tuple[int, list[Device]] | None:
    """How many local workers run and the device of each (round-robin), or None without ``devices``.

    ``n_workers`` None: one worker per place (``len(devices) * workers_per_device``); more than
    that is refused (each GPU would get more workers than ``workers_per_device`` allows).
    """
    if devices is None:
        if workers_per_device is not None:
            raise ValueError("workers_per_device: goes with devices=...; give devices='auto' or a list")
        return None
    per = check_per_device(1 if workers_per_device is None else workers_per_device)
    found = resolve(devices, environ)
    places = len(found) * per
    if n_workers is None:
        n_workers = places
    elif n_workers > places:
        raise ValueError(
            f"n_workers={n_workers} is more than the {places} place(s) on {len(found)} GPU(s) with "
            f"workers_per_device={per}; lower n_workers or raise workers_per_device to "
            f"{-(-n_workers // len(found))}"
        )
    return n_workers, [found[k % len(found)] for k in range(n_workers)]
