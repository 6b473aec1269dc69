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

A block may be shared by several threads (:func:`in_this_block` runs a function in another
thread inside the caller's block). A result asked for while another thread computes it is
waited for, not computed twice. Such waits cannot deadlock: a thread waits only for a result
its own work needs, and two threads waiting for each other would need two results each
computed from the other, which would not finish in one thread either.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import polars as pl

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(eq=False)
class _Entry:
    """One result, being computed until ``done`` is set."""

    frames: tuple[weakref.ref[pl.DataFrame], ...]
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    failed: bool = False

    def holds(self, frames: tuple[pl.DataFrame, ...]) -> bool:
        # NOTE: an id can be reused once its frame is freed; the weak references make sure
        # the frames keyed on are the very ones given now.
        return len(frames) == len(self.frames) and all(
            ref() is frame for ref, frame in zip(self.frames, frames, strict=True)
        )


@dataclass(eq=False)
class _Block:
    """What one :func:`shared_intermediates` block keeps, shared by its threads."""

    entries: dict[tuple[object, ...], _Entry] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_SCOPE: ContextVar[_Block | None] = ContextVar("analyses_shared_intermediates", default=None)


@contextmanager
def shared_intermediates() -> Iterator[None]:
    """Within this block, each :func:`memoized` function computes once per distinct arguments.

    Everything computed is released when the block ends. Blocks nest: an inner block starts
    empty and the outer one resumes when it ends.
    """
    token = _SCOPE.set(_Block())
    try:
        yield
    finally:
        _SCOPE.reset(token)


def in_this_block(function: Callable[[], R]) -> Callable[[], R]:
    """``function`` bound to the caller's block, to be run in another thread (a thread
    starts with no block of its own)."""
    context = contextvars.copy_context()
    return functools.partial(context.run, function)


def memoized(function: Callable[P, R]) -> Callable[P, R]:
    """Reuse ``function``'s result inside :func:`shared_intermediates` (see the module doc).

    Arguments other than frames must be hashable; defaults count as if they were passed, so
    ``f(spans)`` and ``f(spans, gap_ms=<its default>)`` share one result.
    """
    signature = inspect.signature(function)

    @functools.wraps(function)
    def reusing(*args: P.args, **kwargs: P.kwargs) -> R:
        block = _SCOPE.get()
        if block is None:
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
        with block.lock:
            found = block.entries.get(key)
            ours = found is None or found.failed or not found.holds(frames)
            if found is None or ours:
                found = block.entries[key] = _Entry(tuple(weakref.ref(f) for f in frames))
            entry = found
        if ours:
            return _compute(entry, function, *args, **kwargs)
        entry.done.wait()
        if entry.failed:  # the thread computing it failed: this one tries again
            return reusing(*args, **kwargs)
        return entry.result  # type: ignore[return-value]

    return reusing


def _compute(entry: _Entry, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``function``'s result, kept in ``entry`` and announced to the threads waiting for it."""
    try:
        result = function(*args, **kwargs)
    except BaseException:
        entry.failed = True
        raise
    else:
        entry.result = result
        return result
    finally:
        entry.done.set()
