"""The voice channel's start-up: the kickers whose answers' openings a call prepares."""

from __future__ import annotations

import logging

from bot.store.db import session_scope
from bot.store.models import KickKicker
from connectors.voice import kicker_names


def test_the_kickers_come_from_the_shop_database(db_url, env, tmp_path, caplog):
    before = kicker_names()
    with session_scope() as session:
        session.add(KickKicker(kicker_id="k-test", name="Tess Kicker", team="Touchline XV",
                               last_date="2026-12-06"))
    assert sorted(kicker_names()) == sorted([*before, "Tess Kicker"])
    env.set("DATABASE_URL", f"sqlite:///{tmp_path / 'no-such-folder' / 'shop.db'}")
    with caplog.at_level(logging.WARNING):
        assert kicker_names() == []
    assert "no kicker openings prepared" in caplog.text
