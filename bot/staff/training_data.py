"""What staff teach the bot, written as Rasa training data.

- :func:`add_examples`: user messages labelled with an intent go to
  ``data/nlu/review/<intent>.yml`` (one file per intent, Rasa NLU YAML; Rasa reads every
  file under ``data/`` and merges intents of the same name), redacted first: card numbers,
  security codes, IBANs, e-mail addresses and phone numbers become placeholders whatever
  the redaction settings of the chat (:class:`bot.privacy.redaction.Redactor`).
- :func:`add_intent`: a promoted cluster's new intent joins ``domain.yml`` (the intent, a
  response ``utter_<intent>`` with the staff's text) and ``data/rules.yml`` (a rule that
  answers it). The files are edited as text, each section's lines inserted where the
  section starts, so comments and order stay; the result is parsed back and must hold the
  additions, or nothing is written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bot.privacy.redaction import Redactor

INTENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,59}")
"""A new intent's name: lower-case letters, digits and ``_``, starting with a letter."""
MAX_EXAMPLE_CHARS = 500
"""Longest training example kept (longer messages are refused)."""
REVIEW_FOLDER = Path("data") / "nlu" / "review"
"""Where labelled examples go, relative to the project root."""
_REDACT = Redactor(emails=True, phones=True)


class TrainingDataError(ValueError):
    """A label, example or new intent that cannot be written (the message says why)."""


def clean_example(text: str) -> str:
    """The example as written to training data: redacted, whitespace folded to single
    spaces, square brackets made round (Rasa reads ``[text](entity)`` as an annotation).

    Raises:
        TrainingDataError: empty or longer than :data:`MAX_EXAMPLE_CHARS`.
    """
    folded = " ".join(_REDACT.text(text).split()).replace("[", "(").replace("]", ")")
    if not folded:
        raise TrainingDataError("the example is empty")
    if len(folded) > MAX_EXAMPLE_CHARS:
        raise TrainingDataError(f"the example is over {MAX_EXAMPLE_CHARS} characters")
    return folded


def check_intent(name: str) -> str:
    """``name`` if it is a valid intent name (:data:`INTENT_NAME`).

    Raises:
        TrainingDataError: otherwise.
    """
    if not INTENT_NAME.fullmatch(name):
        raise TrainingDataError(
            "an intent name is lower-case letters, digits and _, starting with a letter")
    return name


def review_file(root: Path, intent: str) -> Path:
    """``<root>/data/nlu/review/<intent>.yml``."""
    return root / REVIEW_FOLDER / f"{check_intent(intent)}.yml"


def read_examples(path: Path) -> list[str]:
    """The examples of a review file (``[]`` when it does not exist)."""
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    lines = [block.get("examples", "") for block in data.get("nlu", [])]
    return [line[2:] for text in lines for line in text.splitlines() if line.startswith("- ")]


def add_examples(root: Path, intent: str, texts: list[str]) -> list[str]:
    """Append labelled messages to the intent's review file (each example once).

    Args:
        root: the project root.
        intent: the right intent (an existing one or a new name).
        texts: the messages as stored.

    Returns:
        The examples newly written, cleaned (:func:`clean_example`).

    Raises:
        TrainingDataError: a bad intent name or example (nothing is written then).
    """
    path = review_file(root, intent)
    cleaned = [clean_example(t) for t in texts]
    have = read_examples(path)
    new = [t for i, t in enumerate(cleaned) if t not in have and t not in cleaned[:i]]
    if new:
        lines = "".join(f"    - {t}\n" for t in have + new)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('version: "3.1"\nnlu:\n'
                        f"- intent: {intent}\n  examples: |\n{lines}", encoding="utf-8")
        if read_examples(path) != have + new:  # a text YAML would read differently
            raise TrainingDataError("the examples could not be written as Rasa NLU data")
    return new


def _insert_after(text: str, header: str, block: str) -> str:
    """``text`` with ``block`` inserted on the line after the top-level ``header``."""
    match = re.search(rf"(?m)^{re.escape(header)}\s*\n", text)
    if match is None:
        raise TrainingDataError(f"no {header!r} section")
    return text[: match.end()] + block + text[match.end():]


def add_intent(root: Path, intent: str, response: str) -> None:
    """Add a new intent with a response stub to the domain and a rule answering it.

    Args:
        root: the project root (``domain.yml``, ``data/rules.yml``).
        intent: the new intent's name.
        response: the staff's answer, the text of ``utter_<intent>``.

    Raises:
        TrainingDataError: bad name, empty response, the intent or response already in
            the domain, or files that do not parse back with the additions.
    """
    check_intent(intent)
    answer = " ".join(response.split())
    if not answer:
        raise TrainingDataError("write the answer the bot should give")
    domain_path, rules_path = root / "domain.yml", root / "data" / "rules.yml"
    domain_text = domain_path.read_text(encoding="utf-8")
    domain = yaml.safe_load(domain_text)
    utter = f"utter_{intent}"
    if intent in domain.get("intents", []) or utter in domain.get("responses", {}):
        raise TrainingDataError(f"{intent} is already in the domain")
    new_domain = _insert_after(domain_text, "intents:", f"  - {intent}\n")
    new_domain = _insert_after(new_domain, "responses:",
                               f"  {utter}:\n    - text: {json.dumps(answer)}\n")
    rules_text = rules_path.read_text(encoding="utf-8")
    new_rules = _insert_after(rules_text, "rules:", f"  - rule: Answer {intent} (added by staff)\n"
                              f"    steps:\n      - intent: {intent}\n"
                              f"      - action: {utter}\n\n")
    parsed, rules = yaml.safe_load(new_domain), yaml.safe_load(new_rules)
    if intent not in parsed["intents"] or parsed["responses"][utter] != [{"text": answer}] \
            or rules["rules"][0]["steps"][0] != {"intent": intent}:
        raise TrainingDataError("the domain could not be extended")
    domain_path.write_text(new_domain, encoding="utf-8")
    rules_path.write_text(new_rules, encoding="utf-8")
