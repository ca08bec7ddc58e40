"""Query validation, FTS5 query quoting (fusion: ``test_fusion.py``)."""

from __future__ import annotations

import pytest

from bot.search.fulltext import match_expression
from bot.search.types import MAX_QUERY_CHARS, InvalidQueryError, clean_query


@pytest.mark.parametrize(
    "bad", ["", "   ", "\n\t", "\x00", "shoes\x00", "🙏🔥", "?!", "_", "__ -", "a" * 600]
)
def test_clean_query_rejects(bad: str):
    with pytest.raises(InvalidQueryError):
        clean_query(bad)


def test_clean_query_strips_and_keeps_non_latin():
    assert clean_query("  red shoes ") == "red shoes"
    assert clean_query("लाल जूते") == "लाल जूते"
    assert len(clean_query("a" * MAX_QUERY_CHARS)) == MAX_QUERY_CHARS


def test_match_expression_quotes_every_token():
    assert (
        match_expression('NEAR(red "shoes")* col:x') == '"near" OR "red" OR "shoes" OR "col" OR "x"'
    )
    assert match_expression("?!") is None
