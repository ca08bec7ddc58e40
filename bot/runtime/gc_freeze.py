"""Move a server's start-up objects out of the garbage collector's way.

A Rasa server holds millions of long-lived objects after loading its model (TensorFlow,
PyTorch, spaCy, the domain); every full collection of CPython's cyclic garbage collector
walks all of them.  :func:`freeze` collects once and then moves every object alive at that
point into the permanent generation (``gc.freeze``, Python 3.7+, the technique described
in the CPython documentation of ``gc.freeze`` for pre-fork servers and by Instagram's
"Dismissing Python Garbage Collection at Instagram"), so later collections only walk what
requests create.
"""

from __future__ import annotations

import gc
import logging
import time

logger = logging.getLogger(__name__)


def freeze() -> None:
    """Collect, then freeze every object alive now (idempotent enough: call once at start)."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    logger.info("froze %d start-up objects for the garbage collector in %.0f ms",
                gc.get_freeze_count(), 1000 * (time.perf_counter() - started))
