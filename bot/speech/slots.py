"""A fixed number of worker slots shared by threads, urgent work first.

A recogniser serves several phone calls at once.  With one lock, a call's final transcript
waited behind other calls' early (speculative) transcriptions, some of them already
useless because their caller had resumed talking: a lock convoy.  :class:`PrioritySlots`
gives a slot to the most urgent waiter (arrival order within a priority), and an early
transcription whose result is no longer wanted when its turn comes is skipped.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

URGENT = 0
"""Priority of work a caller is waiting for (a final transcript)."""
EARLY = 1
"""Priority of speculative work (an early transcript while the caller pauses)."""


class PrioritySlots:
    """``size`` slots; :meth:`hold` waits for one, most urgent waiter first.

    Args:
        size: how many holders may run at once (at least 1).
    """

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._free = self.size
        self._waiting: list[tuple[int, int]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()

    @property
    def held(self) -> int:
        """How many slots are held now (0 to :attr:`size`)."""
        with self._cond:
            return self.size - self._free

    @contextmanager
    def hold(self, priority: int = URGENT,
             wanted: Callable[[], bool] | None = None) -> Iterator[bool]:
        """Hold a slot for the ``with`` block.

        Args:
            priority: :data:`URGENT` or :data:`EARLY` (lower runs first).
            wanted: asked when the slot is granted; ``False`` gives the slot back at once.

        Yields:
            ``True`` with a slot held; ``False`` (no slot) when ``wanted()`` said no.
        """
        ticket = (priority, next(self._order))
        with self._cond:
            heapq.heappush(self._waiting, ticket)
            self._cond.wait_for(lambda: self._free > 0 and self._waiting[0] == ticket)
            heapq.heappop(self._waiting)
            self._free -= 1
            self._cond.notify_all()
        try:
            yield wanted is None or wanted()
        finally:
            with self._cond:
                self._free += 1
                self._cond.notify_all()
