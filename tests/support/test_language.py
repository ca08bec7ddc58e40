"""Plainly non-English messages are recognised; English ones, with a foreign word, are not."""

import pytest

from bot.support.language import is_foreign


@pytest.mark.parametrize(
    "text",
    ["我想买红色的鞋子", "Где мой заказ?", "quiero zapatos rojos para mujer",
     "¿tienen vestidos baratos?", "busco un vestido rojo", "ich suche schuhe für meine frau"],
)
def test_other_languages(text):
    assert is_foreign(text)


@pytest.mark.parametrize(
    "text",
    ["red lipstick", "do you have running shoes for men under 100?", "a café latte mug",
     "where is my order TL-10001", "SUMMER25", "", "!!!", "la la land poster"],
)
def test_english(text):
    assert not is_foreign(text)
