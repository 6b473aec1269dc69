"""Computing each shared intermediate frame once while several analyses read the same spans.

Several analyses derive the same frames from the spans: the span tree (service map, DNS,
downstream throttles, critical path), the invocations (cold starts, DNS, the function table),
the throttled attempts (throttles, timeline, function table), the cold starts (the function
table). Inside :func:`shared_intermediates` a function marked :func:`memoized` runs once per
distinct arguments and later calls get the same result; outside it nothing is kept and every
call computes afresh. Only frames worth keeping for the whole block are marked: a large frame
that two analyses share is better computed once by a function returning both (see
``analyses.bottlenecks.critical_path_and_bottlenecks``), so that it is released at once.

Frames are told apart by identity, which is sound because analyses never modify a frame in
place: a frame passed again is the same data. Every other argument is compared by value.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import polars as pl

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class _Entry:
    frames: tuple[weakref.ref[pl.DataFrame], ...]
    result: object

    def holds(self, frames: tuple[pl.DataFrame, ...]) -> bool:
        # NOTE: an id can be reused once its frame is freed; the weak references make sure
        # the frames keyed on are the very ones given now.
        return len(frames) == len(self.frames) and all(
            ref() is frame for ref, frame in zip(self.frames, frames, strict=True)
        )


_Cache = dict[tuple[object, ...], _Entry]
_SCOPE: ContextVar[_Cache | None] = ContextVar("analyses_shared_intermediates", default=None)


@contextmanager
def shared_intermediates() -> Iterator[None]:
    """Within this block, each :func:`memoized` function computes once per distinct arguments.

    Everything computed is released when the block ends. Blocks nest: an inner block starts
    empty and the outer one resumes when it ends.
    """
    token = _SCOPE.set({})
    try:
        yield
    finally:
        _SCOPE.reset(token)


def memoized(function: Callable[P, R]) -> Callable[P, R]:
    """Reuse ``function``'s result inside :func:`shared_intermediates` (see the module doc).

    Arguments other than frames must be hashable; defaults count as if they were passed, so
    ``f(spans)`` and ``f(spans, gap_ms=<its default>)`` share one result.
    """
    signature = inspect.signature(function)

    @functools.wraps(function)
    def reusing(*args: P.args, **kwargs: P.kwargs) -> R:
        cache = _SCOPE.get()
        if cache is None:
            return function(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        frames = tuple(v for v in bound.arguments.values() if isinstance(v, pl.DataFrame))
        key = (
            function,
            *(
                (name, id(value) if isinstance(value, pl.DataFrame) else value)
                for name, value in bound.arguments.items()
            ),
        )
        entry = cache.get(key)
        if entry is not None and entry.holds(frames):
            return entry.result  # type: ignore[return-value]
        result = function(*args, **kwargs)
        cache[key] = _Entry(tuple(weakref.ref(frame) for frame in frames), result)
        return result

    return reusing
