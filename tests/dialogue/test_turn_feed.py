"""The turn feed hands a published turn to every subscriber, in order, despite failures."""

from __future__ import annotations

import asyncio
import logging

from bot.dialogue.turn_feed import SharedTurn, TurnFeed

TURN = SharedTurn("session-1", "where is my order", [{"text": "Sure."}], skip_client="sid-1")


def test_every_subscriber_sees_the_turn_in_order_and_a_failure_is_only_logged(caplog):
    feed, seen = TurnFeed(), []

    async def first(turn: SharedTurn) -> None:
        seen.append(("first", turn))

    async def broken(turn: SharedTurn) -> None:
        raise RuntimeError("socket gone")

    async def last(turn: SharedTurn) -> None:
        seen.append(("last", turn))

    for listener in (first, broken, last):
        feed.subscribe(listener)
    with caplog.at_level(logging.ERROR):
        asyncio.run(feed.publish(TURN))
    assert seen == [("first", TURN), ("last", TURN)]
    assert "could not show a shared turn of conversation session-1" in caplog.text


def test_a_feed_without_subscribers_publishes_nothing():
    asyncio.run(TurnFeed().publish(TURN))  # no error, nothing to show
