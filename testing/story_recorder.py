"""Record the conversation suite's bot side into its story files, so that ``rasa test core
--stories tests/data/conversations`` checks the assistant's action predictions.

Rasa's ``rasa test core`` replays a story's events and, at every ``action`` step, compares
the action the policies predict with the story's; it executes no action, so whatever the
actions did to the tracker must be in the story too. Every story of the suite is driven over
REST against a real stack (a fresh seeded shop, the stories in suite order as
``tests/e2e/test_conversations.py`` drives them); then the conversation's tracker
(``GET /conversations/<id>/tracker?include_events=ALL``: a restart hides nothing) gives,
after each user event:

* the user step: the text as sent, the intent and the entities the NLU found (entity
  markup, ``[TL-10003](order_id)``);
* every ``SlotSet`` (``slot_was_set``), ``ActiveLoop`` (``active_loop``) and predicted
  ``ActionExecuted`` (``action``; not ``action_listen``, and not an action that neither a
  policy nor a custom action chose, e.g. the first session start; an action a custom
  action asked for is recorded and marked, see :data:`FOLLOWUP`).

The steps are written into the files in place: comments, names and ``metadata`` (the
reply expectations the REST judge uses) stay as they are. The recorded actions are a
regression baseline, not the measure: the judge of the replies is.

Usage: ``python -m testing.story_recorder [--model model.tar.gz]`` (default: a model
trained from the repository, :func:`testing.stack.train_project_model`).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from testing import conversations
from testing.stack import Stack, prepare_features, stack_env, train_project_model

Step = dict[str, Any]
"""One story step as Rasa's YAML stories write it (``{"action": "utter_greet"}``)."""


FOLLOWUP = "followup_action"
"""``policy`` of an action a custom action asked for (``FollowupAction``; Rasa's
``FOLLOWUP_ACTION``). Such actions are recorded: the next predictions read them in the
tracker. ``rasa test core`` runs no custom action, so it asks the policies for them and
counts what they predict instead as a mistake (README, Benchmarks: Conversations); the
story files mark them with :data:`FOLLOWUP_MARK`."""
FOLLOWUP_MARK = "# FollowupAction"
"""Comment that marks an action a custom action asked for in the story files (for
``action_listen``, which the next user step implies, a comment line of its own)."""


def _domain_entities() -> set[str]:
    domain = yaml.safe_load(conversations.DOMAIN.read_text(encoding="utf-8"))
    return {e if isinstance(e, str) else next(iter(e)) for e in domain.get("entities") or []}


def annotate(text: str, entities: list[dict[str, Any]], known: set[str]) -> str:
    """``text`` with Rasa's entity markup for ``entities`` (the parse's, with ``start``,
    ``end``, ``entity``, ``value``) whose type is in ``known`` (the domain's). Of
    overlapping entities the first (by start, then longest) is kept: markup cannot nest."""
    spans = sorted((e for e in entities if e.get("entity") in known and "start" in e),
                   key=lambda e: (e["start"], -e["end"]))
    out, pos = [], 0
    for e in spans:
        if e["start"] < pos:
            continue
        span = text[e["start"]:e["end"]]
        label: dict[str, Any] = {"entity": e["entity"]}
        if e.get("value") != span:
            label["value"] = e.get("value")
        for key in ("role", "group"):
            if e.get(key):
                label[key] = e[key]
        markup = f"({e['entity']})" if len(label) == 1 else json.dumps(label, ensure_ascii=False)
        out += [text[pos:e["start"]], f"[{span}]{markup}"]
        pos = e["end"]
    return "".join([*out, text[pos:]])


def steps_from_tracker(events: list[dict[str, Any]], known: set[str]) -> list[Step]:
    """The story steps of a tracker's ``events`` (Rasa's JSON events) from the first user
    event on: user steps with intent and entity markup, then the slots set, loops changed
    and the actions a policy predicted or a custom action asked for (``"followup": True``)
    until the next user event."""
    steps: list[Step] = []
    started = False
    for event in events:
        kind = event.get("event")
        if kind == "user":
            started = True
            parse = event.get("parse_data") or {}
            steps.append({"user": annotate(event.get("text") or "", parse.get("entities") or [],
                                           known),
                          "intent": (parse.get("intent") or {}).get("name")})
        elif not started:
            continue
        elif kind == "slot":
            slot = {event["name"]: event.get("value")}
            if steps and "slot_was_set" in steps[-1]:
                steps[-1]["slot_was_set"].append(slot)
            else:
                steps.append({"slot_was_set": [slot]})
        elif kind == "active_loop":
            steps.append({"active_loop": event.get("name")})
        elif kind == "action" and event.get("policy") == FOLLOWUP:
            steps.append({"action": event["name"], "followup": True})
        elif kind == "action" and event.get("policy") and event["name"] != "action_listen":
            steps.append({"action": event["name"]})
    return steps


def _scalar(value: Any) -> str:  # noqa: ANN401 - any JSON value
    return json.dumps(value, ensure_ascii=False)


def step_lines(steps: list[Step]) -> list[str]:
    """YAML lines (two-space indented, as the suite's files are) of ``steps``."""
    lines = []
    for step in steps:
        if "user" in step:
            lines += [f"  - user: {_scalar(step['user'])}", f"    intent: {step['intent']}"]
        elif "slot_was_set" in step:
            lines.append("  - slot_was_set:")
            lines += [f"    - {name}: {_scalar(value)}"
                      for slot in step["slot_was_set"] for name, value in slot.items()]
        elif "active_loop" in step:
            lines.append(f"  - active_loop: {_scalar(step['active_loop'])}")
        elif step["action"] == "action_listen":  # implied by the next user step
            lines.append(f"  {FOLLOWUP_MARK}: action_listen")
        else:
            mark = f"  {FOLLOWUP_MARK}" if step.get("followup") else ""
            lines.append(f"  - action: {step['action']}{mark}")
    return lines


def rewrite(path: Path, recorded: list[list[Step]]) -> None:
    """Replace the ``steps`` of every story of ``path`` (in file order) with ``recorded``;
    every other line stays as it is."""
    out: list[str] = []
    stories = iter(recorded)
    skipping = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if skipping and re.match(r"  - |    |  #", line):
            continue
        skipping = False
        out.append(line)
        if line == "  steps:":
            out += step_lines(next(stories))
            skipping = True
    if next(stories, None) is not None:
        raise ValueError(f"{path.name}: fewer stories than recorded")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def record(stack: Stack) -> dict[Path, list[list[Step]]]:
    """Drive every story of the suite against ``stack`` (as ``conv<index>``) and return
    each file's recorded steps, story by story."""
    known = _domain_entities()
    by_file: dict[Path, list[list[Step]]] = {}
    index = 0
    for path in sorted(conversations.SUITE.glob("*.yml")):
        by_file[path] = []
        for conversation in conversations.load_file(path):
            sender = f"conv{index:03d}"
            conversations.run(
                lambda s, text, customer: stack.say(s, text, customer=customer),
                conversation, sender)
            by_file[path].append(steps_from_tracker(stack.tracker(sender, "ALL")["events"], known))
            index += 1
    return by_file


def main() -> None:
    """Record the suite against a fresh stack and rewrite its files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model tarball (default: train one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="touchline-record-") as tmp:
        work = Path(tmp)
        model = args.model or train_project_model(work / "model")
        env = stack_env(work)
        prepare_features(env)
        stack = Stack(work, model, env).start()
        try:
            recorded = record(stack)
        finally:
            stack.close()
    for path, steps in recorded.items():
        rewrite(path, steps)
        print(f"{path.name}: {len(steps)} stories recorded")


if __name__ == "__main__":
    main()
