"""Train and compare on a tiny project with the real ``rasa`` command, then deploy into a
running Rasa server; and the comparison rules on hand-written Rasa result files."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from bot.staff.reminders import rasa_trigger
from bot.staff.retrain import MARGIN, RetrainRun, compare, deploy, load_model
from bot.staff.training_data import add_examples, add_intent
from testing.stack import RASA, free_port
from testing.tiny_project import ENV, make_project


def write_results(folder, report, rows):
    folder.mkdir()
    (folder / "intent_report.json").write_text(json.dumps(
        {**{k: {"f1-score": v, "support": 2} for k, v in report.items()},
         "accuracy": 0.5, "macro avg": {"f1-score": 0.5, "support": 6}}))
    (folder / "intent_successes.json").write_text(json.dumps([
        {"text": t, "intent": i, "intent_prediction": {"name": p, "confidence": 0.9}}
        for t, i, p in rows if i == p]))
    (folder / "intent_errors.json").write_text(json.dumps([
        {"text": t, "intent": i, "intent_prediction": {"name": p, "confidence": 0.4}}
        for t, i, p in rows if i != p]))


def test_comparison_blocks_a_model_that_made_an_intent_worse(tmp_path):
    write_results(tmp_path / "a", {"greet": 1.0, "order": 0.8, "gift": 0.0},
                  [("hi", "greet", "greet"), ("gift?", "gift", "greet")])
    write_results(tmp_path / "b", {"greet": 1.0 - MARGIN / 2, "order": 0.7, "gift": 1.0},
                  [("hi", "greet", "greet"), ("gift?", "gift", "gift")])
    result = compare(tmp_path / "a", tmp_path / "b")
    assert result.worse == ["order"] and not result.deployable
    assert [c.intent for c in result.intents] == ["order", "greet", "gift"]  # worst first
    assert result.changed == [{"text": "gift?", "intent": "gift", "before": "greet",
                               "after": "gift"}]
    assert compare(tmp_path / "a", tmp_path / "a").deployable


@pytest.mark.slow
def test_train_compare_and_deploy_on_a_tiny_project(tmp_path, env):
    env.set("RASA_TELEMETRY_ENABLED", "false")  # inherited by the run's rasa commands
    root = tmp_path / "project"
    current = make_project(root)
    add_intent(root, "gift_cards", "We sell gift cards.")
    add_examples(root, "gift_cards", ["do you have gift cards", "gift cards?",
                                      "can I buy a gift card", "gift card for my mum"])

    run = RetrainRun(root, current, root / "tests" / "data" / "nlu_heldout.yml",
                     root / "models" / "staff")
    run.start().join()
    assert run.status == "done", run.error
    assert [s["state"] for s in run.as_dict()["steps"]] == ["done"] * 4
    gift = next(c for c in run.comparison.intents if c.intent == "gift_cards")
    assert gift.before == 0.0 and gift.after > 0.5
    assert "gift card please" in {c["text"] for c in run.comparison.changed}

    assert run.comparison.deployable, run.comparison.worse  # no intent got worse here

    port = free_port()
    server = subprocess.Popen([RASA, "run", "--enable-api", "-m", str(current), "--port",
                               str(port)], cwd=root, env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, server)
        replaced = deploy(run, [url])
        assert replaced == current and replaced.exists()
        assert httpx.get(f"{url}/status").json()["model_file"].endswith(run.new_model.name)
        load_model([url], replaced)  # roll back
        assert httpx.get(f"{url}/status").json()["model_file"].endswith("touchline.tar.gz")
        # a reminder's delivery: an intent triggered in a conversation gets the rule's answer
        rasa_trigger(url)("shopper-1", "greet", {"cart_total": "12.50"})
        events = httpx.get(f"{url}/conversations/shopper-1/tracker").json()["events"]
        assert [e["text"] for e in events if e["event"] == "bot"] == ["Hello!"]
    finally:
        server.terminate()
        server.wait(30)


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 240) -> None:
    """Wait for the Rasa server's ``/status``; fail if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "rasa run exited"
        try:
            if httpx.get(f"{url}/status", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("rasa run did not answer in time")


@pytest.mark.slow
def test_a_model_reaches_every_rasa_server_and_the_first_refusal_rolls_back(tmp_path):
    current = make_project(tmp_path / "project")
    new = current.with_name("new.tar.gz")
    new.write_bytes(current.read_bytes())
    servers, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            servers.append(subprocess.Popen(
                [RASA, "run", "--enable-api", "-m", str(current), "--port", str(port)],
                cwd=current.parents[1], env=ENV, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        for url, server in zip(urls, servers):
            wait_until_up(url, server)

        def models() -> list[str]:
            return [httpx.get(f"{u}/status").json()["model_file"].rsplit("/", 1)[-1]
                    for u in urls]

        load_model(urls, new, restore=current)
        assert models() == ["new.tar.gz", "new.tar.gz"]
        load_model(urls, current, restore=new)
        assert models() == ["touchline.tar.gz", "touchline.tar.gz"]

        nobody = f"http://127.0.0.1:{free_port()}"  # a server that is down
        with pytest.raises(httpx.HTTPError):
            load_model([urls[0], nobody, urls[1]], new, restore=current)
        assert models() == ["touchline.tar.gz", "touchline.tar.gz"]  # rolled back, untouched
    finally:
        for server in servers:
            server.terminate()
            server.wait(30)
