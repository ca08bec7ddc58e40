"""Query validation, FTS5 query quoting, reciprocal rank fusion."""

from __future__ import annotations

import pytest

from bot.search.fulltext import match_expression
from bot.search.fusion import reciprocal_rank_fusion
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


def test_rrf_scores_and_order():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]])
    scores = dict(fused)
    assert scores[1] == pytest.approx(1 / 61 + 1 / 62)
    assert scores[3] == pytest.approx(1 / 63 + 1 / 61)
    assert scores[2] == pytest.approx(1 / 62)
    assert [i for i, _ in fused] == [1, 3, 2]
