"""A short soak run (``bench/soak.py``) against the real stack: REST, widget sessions of
two tabs that drop and come back, Telegram chats with redelivered updates, and repeated,
concurrent double-charge complaints; nothing may be lost, stored twice or unanswered."""

from __future__ import annotations

import pytest

from bench.soak import report_ok, soak, table

pytestmark = pytest.mark.slow


def test_a_short_soak_loses_nothing_and_opens_one_ticket_per_complaint(tmp_path, model):
    users = {"rest": 2, "widget": 2, "telegram": 1}
    report = soak(1.0, users, complaints=3, workdir=tmp_path / "stack", model=model,
                  think_s=1.0)
    print(table(report))
    every = report["messages"]["all"]
    assert every["accepted"] == every["stored"] > 50
    assert every["lost"] == every["twice"] == every["unaccepted"] == 0
    assert all(report["messages"][c]["stored"] > 0 for c in ("rest", "widget", "telegram"))
    assert report["disconnects"] > 0 and report["messages"]["widget"]["attempts"] > \
        report["messages"]["widget"]["sent"]  # tabs dropped and sent again
    replies = report["replies"]
    assert replies["tabs_complete"] == replies["tabs"] >= 6, replies["tab_problems"]
    assert replies["rest_problems"] == replies["telegram_problems"] == []
    tickets = report["tickets"]
    assert tickets == {"customers": 3, "complaints": 9, "tickets": 3, "per_customer": {1: 3},
                       "problems": []}
    assert report["logs"]["tracebacks"] == 0 and report["client_errors"] == []
    assert report_ok(report)
