"""The customer-wording rule of docs/architecture.md, checked on the product code's source.

What a customer reads is a ``domain.yml`` response or comes from a ``wording.py`` module; a
sentence written anywhere else in ``bot/``, ``actions/`` or ``connectors/`` fails here.
"Sentence" is judged from the source (with ``ast``): a string, or an f-string's fixed
parts, of three words or more that starts with a capital letter and ends with ``.``, ``?``
or ``!``.  Docstrings, log calls, exceptions and command-line help are not customer texts.
The data layer (``bot/store``) is held to more: no composed text (an f-string of three
words or more) and no sentence ending, whatever its first letter.  Actions pass
``utter_message`` no text of their own.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT

CHECKED = ("bot", "actions", "connectors")
"""Folders whose modules may not hold customer sentences outside their ``wording.py``."""
STORE = PROJECT_ROOT / "bot" / "store"
SENTENCE = re.compile(r"[A-Z]\S*(?: \S+){2,}[.?!]")
"""A customer sentence: a capital, three words or more, a full stop, question or exclamation
mark at the end (whitespace folded)."""
NOT_FOR_CUSTOMERS = frozenset({
    "debug", "info", "warning", "error", "exception", "critical", "warn", "filterwarnings",
    "print", "add_argument", "ArgumentParser", "Field", "Query", "Path", "HTTPException",
})
"""Calls whose strings go to developers, operators or API clients, not into a chat."""


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _text(node: ast.AST) -> str | None:
    """A string constant's text, or an f-string's with ``{}`` for each value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def texts(path: Path) -> list[tuple[int, str, bool]]:
    """``(line, text, composed)`` of every string in the module that may reach a customer:
    not a docstring or other bare string statement, not inside ``raise`` or a call of
    :data:`NOT_FOR_CUSTOMERS`; an f-string counts once (``composed``), not its parts."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and _text(node.value) is not None:
            skipped.add(id(node.value))
        if isinstance(node, ast.Raise) or (
                isinstance(node, ast.Call) and _call_name(node) in NOT_FOR_CUSTOMERS):
            skipped.update(id(inner) for inner in ast.walk(node))
    found = []
    for node in ast.walk(tree):  # breadth first: an f-string before its parts
        if id(node) in skipped:
            continue
        if isinstance(node, ast.JoinedStr):
            skipped.update(id(part) for part in node.values)
        text = _text(node)
        if text is not None:
            found.append((node.lineno, " ".join(text.split()), isinstance(node, ast.JoinedStr)))
    return found


def modules() -> list[Path]:
    """The checked modules, without the ``wording.py`` ones and the migrations."""
    return [path for top in CHECKED for path in sorted((PROJECT_ROOT / top).rglob("*.py"))
            if path.name != "wording.py" and "migrations" not in path.parts]


def misplaced(path: Path) -> list[str]:
    """``"file:line: text"`` of every customer text of ``path`` outside its home."""
    where = path.relative_to(PROJECT_ROOT).as_posix()
    in_store = path.is_relative_to(STORE)
    wrong = []
    for line, text, composed in texts(path):
        words = len(text.split())
        if in_store:
            bad = words >= 3 and (composed or text.rstrip()[-1:] in ".?!")
        else:
            bad = bool(SENTENCE.fullmatch(text))
        if bad:
            wrong.append(f"{where}:{line}: {text[:80]!r}")
    return wrong


def test_customer_sentences_live_in_wording_modules():
    wrong = [found for path in modules() for found in misplaced(path)]
    assert not wrong, (
        "customer texts outside a wording.py or domain.yml (docs/architecture.md, "
        "'Customer wording'):\n" + "\n".join(wrong)
    )


def test_actions_give_utter_message_no_text_of_their_own():
    wrong = []
    for path in sorted((PROJECT_ROOT / "actions").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and _call_name(node) == "utter_message"):
                continue
            for keyword in node.keywords:
                if keyword.arg == "text" and any(_text(inner) is not None
                                                 for inner in ast.walk(keyword.value)):
                    wrong.append(f"{path.name}:{node.lineno}")
    assert not wrong, f"utter_message(text=<a literal>) in actions: {wrong}"


@pytest.mark.parametrize("source", [
    'REPLY = "Sorry, I can only read text. Please type your question."',
    'def reply(n):\n    return f"I found the problem and fixed {n} things."',
    'TEXTS = {"a": "Your order is on its way!"}',
])
def test_a_sentence_outside_a_wording_module_is_found(tmp_path, source):
    module = tmp_path / "channel.py"
    module.write_text(source)
    assert texts(module) and any(SENTENCE.fullmatch(t) for _, t, _ in texts(module))


@pytest.mark.parametrize("source", [
    '"""Docstring: This is not for customers."""',
    'import logging\nlogging.getLogger().warning("Something odd happened here.")',
    'raise ValueError("The secret must be at least 16 bytes long.")',
    'KEY = "status = \'open\'"',
])
def test_docstrings_logs_errors_and_code_are_not_customer_texts(tmp_path, source):
    module = tmp_path / "channel.py"
    module.write_text(source)
    assert not any(SENTENCE.fullmatch(t) for _, t, _ in texts(module))
