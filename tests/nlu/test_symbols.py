"""Spelling out symbols the encoder cannot read (``bot/nlu/symbols.py``), with the real
all-MiniLM-L6-v2 tokenizer deciding what it cannot read."""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlu.embedding_model import default_model_path, encode, load_model
from bot.nlu.symbols import original_offsets, spell_symbols


@pytest.fixture(scope="module")
def model():
    return load_model(default_model_path(), 1)


def unknown_to(model):
    tokenizer = model.tokenizer
    return lambda char: tokenizer.tokenize(char) == [tokenizer.unk_token]


def test_emoji_become_their_names_and_known_symbols_stay(model):
    spelled, spans = spell_symbols("ok 👍🏽 at 20° for £5", unknown_to(model))
    assert spelled.split() == ["ok", "thumbs", "up", "sign", "at", "20°", "for", "£5"]
    assert spans is not None and len(spans) == len(spelled)
    # every character of the name (and the silent skin-tone modifier) maps to its symbol
    name = spelled.index("thumbs")
    assert spans[name] == (3, 4) and spans[name + len("thumbs up sign") - 1] == (3, 4)
    assert spans[spelled.index("20°")] == (9, 10)


def test_ascii_and_readable_text_is_unchanged(model):
    for text in ["", "where is my order?", "¿dónde está mi pedido?", "你们有红色的鞋子吗"]:
        spelled, spans = spell_symbols(text, unknown_to(model))
        assert spelled == text and spans is None


def test_offsets_map_back_to_the_original_text():
    spans = [(0, 1), (1, 2), (1, 2), (1, 2), (2, 3)]  # "a" + 3 chars for one symbol + "b"
    assert original_offsets([(0, 1), (1, 4), (2, 3), (4, 5), (0, 0)], spans) == [
        (0, 1),
        (1, 2),
        (1, 2),
        (2, 3),
        (0, 0),
    ]


def test_thumbs_up_and_down_no_longer_share_one_embedding(model):
    up, down, unknown = encode(model, ["👍", "👎", "[UNK]"], 8)
    assert float(up.sentence @ down.sentence) < 0.95
    assert not np.allclose(up.sentence, unknown.sentence, atol=1e-3)
    # word pieces of the spelled name point at the emoji in the original text
    assert up.offsets.tolist() == [[0, 1]] * len(up.offsets)
