"""Allocator settings that must be in place before polars is first imported.

polars allocates through jemalloc, which by default keeps freed pages for ten seconds. A large
analysis frees big intermediate frames in turn: returning freed pages after 100 ms keeps the
peak resident memory of a 1,000,000-segment run of raw JSON under 2 GB (about 2.4 GB with the
default, and with 1 s). Returning them at once (0 ms) saves only ~3% more memory but costs
about a quarter more time: pages freed by one chunk of ingest are faulted in again by the next.

Reading a store (``analyze --store``, ``report --store``) is different: its frames are a third
the size, and returning pages after 100 ms spends its time in the kernel faulting the same
pages in again (1M segments: 2.7 s of system CPU). For those commands freed pages are kept
1 s: measured side by side, 9.0 -> 8.0 s CPU, 6.5 -> 6.0 s wall, 1.18 -> 1.25 GB peak. Its
analyses run in two threads (``tracelens.analysis``), whose freed pages jemalloc keeps apart
in one arena per thread by default; one arena per CPU lets each thread reuse the other's
(1M segments: 1.44 -> 1.39 GB peak, same time). A value the user set is left alone.
"""

from __future__ import annotations

import os
import sys

JEMALLOC_CONF = "_RJEM_MALLOC_CONF"
INGEST_CONF = "dirty_decay_ms:100,muzzy_decay_ms:0"
STORE_READ_CONF = "dirty_decay_ms:1000,muzzy_decay_ms:0,percpu_arena:percpu"
STORE_READERS = frozenset({"analyze", "report"})


def reads_a_store(argv: list[str]) -> bool:
    """Whether the command line runs ``analyze`` or ``report`` on a store."""
    store = any(arg == "--store" or arg.startswith("--store=") for arg in argv)
    return store and any(arg in STORE_READERS for arg in argv[1:])


os.environ.setdefault(JEMALLOC_CONF, STORE_READ_CONF if reads_a_store(sys.argv) else INGEST_CONF)
