"""The exported entity vocabulary (``data/entities``) and the spaCy pipeline built from it."""

from __future__ import annotations

import spacy

from bot.nlu import vocabulary
from bot.nlu.spacy_build import build
from bot.store.db import get_engine


def test_committed_files_match_an_export_of_the_freshly_seeded_catalogue(db_url, tmp_path):
    out = tmp_path / "entities"
    vocabulary.main(["--db", db_url, "--out", str(out)])
    for kind in ("brands", "categories", "colours", "kickers"):
        committed = (vocabulary.VOCABULARY_DIR / f"{kind}.txt").read_text(encoding="utf-8")
        assert (out / f"{kind}.txt").read_text(encoding="utf-8") == committed, (
            f"data/entities/{kind}.txt is stale: run `python -m bot.nlu.vocabulary`"
        )


def test_the_export_reads_the_kickers_of_the_form_store(kick_model, tmp_path):
    url, _ = kick_model  # trained on 6,000 kicks: fewer kickers than the default data
    stored = vocabulary.collect(get_engine(url)).kickers
    assert stored and len(stored) < len(vocabulary.read().kickers)


def test_the_pipeline_comes_from_the_vocabulary_files_only(tmp_path):
    words = vocabulary.Vocabulary(
        brands=["Zyxo Labs"], categories=["moon-boots"], colours=["teal"], kickers=["Ada Quill"]
    )
    vocabulary.write(words, tmp_path / "entities")
    build(tmp_path / "nlp", tmp_path / "entities", tmp_path / "no_nlu")
    doc = spacy.load(tmp_path / "nlp")("teal moon boots by zyxo labs for ada quill")
    assert [(e.text, e.label_, e.ent_id_) for e in doc.ents] == [
        ("teal", "colour", "teal"),
        ("moon boots", "product_category", "moon-boots"),
        ("zyxo labs", "brand", "Zyxo Labs"),
        ("ada quill", "kicker", "Ada Quill"),
    ]
