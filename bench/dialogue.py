"""Task success of whole conversations, Touchline vs Rasa's default policies.

The conversation suite (``tests/data/conversations``, loaded by
:mod:`testing.conversations`) is driven over REST against two stacks in the same run, each
on its own freshly seeded shop database with the same action server code:

* ``touchline``: ``config.yml`` (Touchline's NLU pipeline; takeover, memoization and rule
  policies);
* ``ted``: the same NLU pipeline, domain, data and actions with the policies of Rasa 3.6's
  default config (``rasa/engine/recipes/config_files/default_config.yml``: Memoization,
  Rule, UnexpecTEDIntent and TED, 100 epochs each; ``--quick`` uses 20).

Per system: task success rate (a conversation succeeds when every reply contains what the
customer needed), mean customer turns of the successful conversations, fallback rate (share
of turns answered "please rephrase" / "outside what I can help with") and handoff rate
(share of conversations in which a person was offered).  Prints a table and writes
``bench/data/dialogue.json`` (per-conversation outcomes included).

Usage: ``python -m bench.dialogue [--quick] [--limit N] [--systems touchline,ted]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bot.config import PROJECT_ROOT
from testing import conversations
from testing.stack import Stack, prepare_features, stack_env, train_model

OUT = PROJECT_ROOT / "bench" / "data" / "dialogue.json"


def _config(workdir: Path, policies: list[dict[str, Any]] | None, quick: bool) -> Path:
    """``config.yml`` with its spaCy pipeline built into ``workdir`` (as
    :func:`testing.stack.train_project_model` does) and, when given, other policies."""
    from bot.nlu.spacy_build import build

    spacy_dir = workdir / "en_touchline"
    build(spacy_dir)
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())
    for component in config["pipeline"]:
        if component["name"].endswith("SpacyNLP"):
            component["model"] = str(spacy_dir)
    if policies is not None:
        config["policies"] = policies
        if quick:
            for policy in policies:
                if "epochs" in policy:
                    policy["epochs"] = 20
    path = workdir / "config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def default_policies() -> list[dict[str, Any]]:
    """The policies of Rasa 3.6's default config file."""
    from rasa.engine.recipes import default_recipe

    src = Path(default_recipe.__file__).parent / "config_files" / "default_config.yml"
    return list(yaml.safe_load(src.read_text())["policies"])


def run_system(name: str, workdir: Path, suite: list[conversations.Conversation],
               quick: bool) -> dict[str, Any]:
    """Train ``name``'s model, start its stack, drive the suite; returns the figures."""
    workdir.mkdir(parents=True)
    policies = None if name == "touchline" else default_policies()
    model = train_model(workdir, config=_config(workdir, policies, quick), name=name)
    env = stack_env(workdir)
    prepare_features(env)
    stack = Stack(workdir, model, env).start()
    try:
        outcomes = [
            conversations.run(
                lambda sender, text, customer: stack.say(sender, text, customer=customer),
                conversation, f"{name[:3]}{i:03d}")
            for i, conversation in enumerate(suite)
        ]
    finally:
        stack.close()
    succeeded = [o for o in outcomes if o.success]
    turns = sum(o.turns for o in outcomes)
    return {
        "conversations": len(outcomes),
        "turns": turns,
        "task_success": len(succeeded) / len(outcomes),
        "turns_to_success": statistics.mean(o.turns for o in succeeded) if succeeded else None,
        "fallback_rate": sum(o.fallbacks for o in outcomes) / turns,
        "handoff_rate": sum(o.handoffs > 0 for o in outcomes) / len(outcomes),
        "fallback_turns": [
            {"story": o.name, "text": text}
            for c, o in zip(suite, outcomes)
            for (text, _), fell_back in zip(c.turns, o.fell_back) if fell_back
        ],
        "failed": [
            {"story": o.name, "turns": [
                {"text": text, "reply": reply}
                for (text, _), reply, met in zip(c.turns, o.replies, o.met) if not met]}
            for c, o in zip(suite, outcomes) if not o.success
        ],
    }


def table(results: dict[str, dict[str, Any]]) -> str:
    """The printed table: one row per system."""
    rows = ["system      convs  task success  turns to success  fallback rate  handoff rate"]
    for name, r in results.items():
        turns = f"{r['turns_to_success']:.2f}" if r["turns_to_success"] else "-"
        rows.append(f"{name:<10} {r['conversations']:>6}  {r['task_success']:>11.1%}  "
                    f"{turns:>16}  {r['fallback_rate']:>13.1%}  {r['handoff_rate']:>12.1%}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="TED and UnexpecTED: 20 epochs")
    parser.add_argument("--limit", type=int, default=0, help="first N conversations only")
    parser.add_argument("--systems", default="touchline,ted")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    suite = conversations.load()
    suite = suite[:args.limit] if args.limit else suite
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-dialogue-") as tmp:
        for name in args.systems.split(","):
            results[name] = run_system(name, Path(tmp) / name, suite, args.quick)
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"quick": args.quick, "results": results}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
