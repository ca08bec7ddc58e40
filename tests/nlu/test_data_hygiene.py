"""Hygiene checks for the NLU training data (data/nlu) and the held-out set (tests/data)."""

import re
import warnings
from collections import defaultdict
from pathlib import Path

import pytest
import rasa.shared.data
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData

ROOT = Path(__file__).resolve().parents[2]
INTENTS = {
    "greet", "goodbye", "affirm", "deny", "thank", "bot_challenge", "cart_issue",
    "payment_issue", "discount_code", "order_status", "product_search", "kick_stats",
    "human_handoff", "out_of_scope", "restart", "stop_reminders",
}  # fmt: skip


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _load_nlu_dir(path: Path) -> TrainingData:
    # data/nlu also holds SOURCES.md; load only the files Rasa itself treats as NLU data
    # (load_data() on the directory would try to parse the Markdown and fail).
    files = sorted(rasa.shared.data.get_data_files([str(path)], rasa.shared.data.is_nlu_file))
    return TrainingData().merge(*(load_data(f) for f in files))


@pytest.fixture(scope="module")
def training():
    return _load_nlu_dir(ROOT / "data" / "nlu")


@pytest.fixture(scope="module")
def heldout():
    return load_data(str(ROOT / "tests" / "data" / "nlu_heldout.yml"))


def test_intents_are_exactly_the_touchline_set(training):
    assert training.intents == INTENTS


def test_every_intent_has_at_least_60_examples(training):
    counts = training.number_of_examples_per_intent
    too_few = {i: counts.get(i, 0) for i in INTENTS if counts.get(i, 0) < 60}
    assert not too_few, too_few
    assert max(counts.values()) <= 200, counts


def test_heldout_has_at_least_300_examples(heldout):
    assert len(heldout.training_examples) >= 300
    assert heldout.intents <= INTENTS


def test_no_overlap_between_heldout_and_training(training, heldout):
    train_texts = {_norm(m.get("text")) for m in training.training_examples}
    overlap = {_norm(m.get("text")) for m in heldout.training_examples} & train_texts
    assert not overlap, sorted(overlap)[:20]


@pytest.mark.parametrize("which", ["training", "heldout"])
def test_no_text_in_two_intents(which, request):
    data = request.getfixturevalue(which)
    owners = defaultdict(set)
    for m in data.training_examples:
        owners[_norm(m.get("text"))].add(m.get("intent"))
    clashes = {t: sorted(i) for t, i in owners.items() if len(i) > 1}
    assert not clashes, list(clashes.items())[:20]


def test_no_duplicate_examples(training):
    texts = [_norm(m.get("text")) for m in training.training_examples]
    dupes = {t for t in texts if texts.count(t) > 1}
    assert not dupes, sorted(dupes)[:20]


def test_training_contains_no_public_test_split_text(training):
    """No training example may come from CLINC150 test/oos_test or BANKING77 test.csv."""
    splits = ROOT / "tests" / "data" / "public_test_splits"
    test_texts = {
        _norm(line)
        for name in ("clinc150_test_texts.txt", "banking77_test_texts.txt")
        for line in (splits / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    assert len(test_texts) > 8000
    train_texts = {_norm(m.get("text")) for m in training.training_examples}
    leaked = train_texts & test_texts
    # Generic one- or two-word replies ("yes", "bye") occur in every corpus; only longer
    # texts that are specific to the test splits count as leakage.
    leaked = {t for t in leaked if len(t.split()) > 2}
    assert not leaked, sorted(leaked)[:20]


def test_no_conflicting_entity_synonyms(training, tmp_path):
    # Rasa's EntitySynonymMapper keeps the last of two targets for one text and only warns
    # (a "5m" touchline distance once overwrote the "5m" pitch spot).
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.extractors.entity_synonyms import EntitySynonymMapper

    mapper = EntitySynonymMapper.create(
        {},
        LocalModelStorage(tmp_path),
        Resource("synonyms"),
        ExecutionContext(graph_schema=None, node_name="synonyms"),  # type: ignore[arg-type]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mapper.train(training)
    assert mapper.synonyms
    assert not [str(w.message) for w in caught if "conflicting synonym" in str(w.message)]
