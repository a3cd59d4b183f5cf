"""Clear TypeErrors for constructor calls: too many positional arguments, and renamed keywords.

A leaf module (it imports nothing from shoal), shared by samplers and schedulers::

    @keywords(renamed={"n_initial": "n_startup"})
    class GP(Sampler): ...

``GP(n_initial=5)`` then raises ``TypeError: GP: n_initial was renamed; pass n_startup=...``, and a
call with more positional arguments than ``__init__`` takes raises a TypeError naming the keyword-only
ones (instead of Python's ``__init__() takes from 1 to 2 positional arguments``). There are no aliases:
an old keyword is an error, never a second spelling. ``inspect.signature(cls)`` still shows the real
signature.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = ["keywords"]

C = TypeVar("C", bound=type)


def keywords(*, renamed: Mapping[str, str] | None = None) -> Callable[[C], C]:
    """Class decorator: wrap ``__init__`` so the two mistakes above raise a TypeError that says the fix."""
    renamed = dict(renamed or {})

    def decorate(cls: C) -> C:
        init = cls.__init__
        params = list(inspect.signature(init).parameters.values())[1:]  # without self
        if any(p.kind == p.VAR_POSITIONAL for p in params):
            raise TypeError(f"{cls.__name__}: @keywords needs an __init__ without *args")
        positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        keyword_only = [p.name for p in params if p.kind == p.KEYWORD_ONLY]
        name = cls.__name__

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            for old in kwargs:
                if old in renamed:
                    raise TypeError(f"{name}: {old} was renamed; pass {renamed[old]}=...")
            if len(args) > len(positional):
                takes = (
                    f"at most {len(positional)} positional argument{'s' if len(positional) != 1 else ''} "
                    f"({', '.join(positional)})" if positional else "no positional arguments"
                )
                given = f"{len(args)} {'was' if len(args) == 1 else 'were'} given"
                raise TypeError(
                    f"{name}() takes {takes} but {given}; pass the others by keyword: "
                    + ", ".join(f"{k}=..." for k in keyword_only)
                )
            init(self, *args, **kwargs)

        cls.__init__ = __init__  # type: ignore[misc]
        cls.renamed_keywords = {**getattr(cls, "renamed_keywords", {}), **renamed}  # type: ignore[attr-defined]
        return cls

    return decorate
