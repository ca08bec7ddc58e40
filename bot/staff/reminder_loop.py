"""The cart-reminder scheduler as a process: ``python -m bot.staff.reminder_loop``.

``make run`` starts it from the ``Procfile`` (``reminders:``), beside the retention job: one
small process of its own, so the API and Rasa servers stay free of background work and a
deployment can run it on as many hosts as it likes. Every ``--every`` seconds it calls
:meth:`bot.staff.reminders.ReminderScheduler.tick`; several loops against one database send
each reminder once (the job table's claim, :mod:`bot.store.jobs`). Reminders go to the Rasa
server of ``TOUCHLINE_RASA_URL`` (default the local one) with ``RASA_AUTH_TOKEN``, which also
tells whether a chat is in progress; nothing is sent until staff switch reminders on in the
staff console.

Usage::

    python -m bot.staff.reminder_loop              # a tick every 60 s, for ever (make run)
    python -m bot.staff.reminder_loop --ticks 1    # one tick, then exit (cron, tests)
"""

from __future__ import annotations

import argparse
import logging
import time

from bot.config import settings
from bot.staff.reminders import ReminderScheduler, rasa_last_message, rasa_trigger

log = logging.getLogger(__name__)

EVERY_S = 60.0
"""Seconds between ticks: a reminder goes out at most this late after its delay."""


def run(every_s: float = EVERY_S, ticks: int | None = None) -> int:
    """Tick the scheduler every ``every_s`` seconds, ``ticks`` times (``None``: for ever).

    A tick that fails (database or Rasa down) is logged and the loop goes on.

    Returns:
        How many conversations were written to.
    """
    config = settings()
    rasa, token = config.rasa_base_url(), config.rasa_auth_token or None
    scheduler = ReminderScheduler(rasa_trigger(rasa, token),
                                  last_message=rasa_last_message(rasa, token))
    sent, done = 0, 0
    while ticks is None or done < ticks:
        try:
            sent += len(scheduler.tick())
        except Exception:  # noqa: BLE001 (the loop must outlive a bad tick)
            log.exception("cart reminder tick failed")
        done += 1
        if ticks is None or done < ticks:
            time.sleep(every_s)
    return sent


def main(argv: list[str] | None = None) -> None:
    """Command line: ``--every SECONDS`` (default 60), ``--ticks N`` (default: for ever)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=EVERY_S,
                        help="seconds between ticks (default 60)")
    parser.add_argument("--ticks", type=int, default=None,
                        help="stop after this many ticks (default: run for ever)")
    args = parser.parse_args(argv)
    if args.every <= 0 or (args.ticks is not None and args.ticks < 1):
        parser.error("--every must be positive and --ticks at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"sent {run(args.every, args.ticks)}", flush=True)


if __name__ == "__main__":
    main()
