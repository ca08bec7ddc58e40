"""The out-of-scope threshold is a function of the training messages only.

Real components (WhitespaceTokenizer, CountVectorsFeaturizer, SentenceEmbeddingFeaturizer,
IntentClassifier) on the fixture data; the classifier persists to and loads from a real
``LocalModelStorage``.

How these tests would catch a leak: :func:`test_threshold_is_sensitive_to_its_inputs`
shows that adding the evaluation rows to what the threshold sees changes it, and
:func:`test_threshold_ignores_evaluation_data` shows that evaluating on two different
sets, before and after persisting, never changes it and that it equals the value
recomputed from the training rows alone. A selection that read evaluation data would break
one of the two.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.model_selection import StratifiedKFold

from bot.nlu.classifier import IntentClassifier
from bot.nlu.features import Design, feature_matrix
from bot.nlu.featurizer import SentenceEmbeddingFeaturizer
from bot.nlu.linear_model import fit_softmax, softmax
from bot.nlu.oos import calibrate, select_threshold, select_threshold_for_share
from tests.nlu.conftest import FIXTURES

CONTEXT = ExecutionContext(graph_schema=None, node_name="clf")  # type: ignore[arg-type]
CLASSIFIER_CONFIG = {
    **IntentClassifier.get_default_config(),
    "cv_folds": 3,
    "max_in_scope_loss": 0.05,
    "max_in_scope_loss_simulated": 0.05,
}


class Featurize:
    """Tokenize + count vectors (fitted on training data) + sentence embeddings."""

    def __init__(self, training: TrainingData, storage: LocalModelStorage) -> None:
        self.tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
        self.counts = CountVectorsFeaturizer.create(
            CountVectorsFeaturizer.get_default_config(), storage, Resource("cv"), CONTEXT
        )
        self.embed = SentenceEmbeddingFeaturizer(
            {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "minilm"}, "minilm"
        )
        self.tokenizer.process_training_data(training)
        self.counts.train(training)
        self.counts.process_training_data(training)
        self.embed.process_training_data(training)

    def messages(self, texts: list[str]) -> list[Message]:
        messages = [Message(data={TEXT: t}) for t in texts]
        for component in (self.tokenizer, self.counts, self.embed):
            component.process(messages)
        return messages


def load(name: str) -> TrainingData:
    return RasaYAMLReader().read(FIXTURES / name)


def without_intent(data: TrainingData, intent: str) -> TrainingData:
    return TrainingData([m for m in data.training_examples if m.get("intent") != intent])


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> LocalModelStorage:
    return LocalModelStorage(tmp_path_factory.mktemp("oos_storage"))


@pytest.fixture(scope="module")
def trained(storage):
    training = load("nlu.yml")
    featurize = Featurize(training, storage)
    classifier = IntentClassifier.create(CLASSIFIER_CONFIG, storage, Resource("clf"), CONTEXT)
    classifier.train(training)
    return training, featurize, classifier


def test_threshold_ignores_evaluation_data(trained, storage):
    training, featurize, classifier = trained
    threshold = classifier.calibration.threshold
    heldout = [m.get(TEXT) for m in load("heldout.yml").intent_examples]
    other = ["what's the weather", "sing a song", "order status", "hi"]
    for texts in (heldout, other):
        classifier.process(featurize.messages(texts))
        assert classifier.calibration.threshold == threshold
    loaded = IntentClassifier.load(CLASSIFIER_CONFIG, storage, Resource("clf"), CONTEXT)
    loaded.process(featurize.messages(heldout))
    assert loaded.calibration.threshold == threshold
    # recomputed from the training rows alone, it is the same number
    examples = [e for e in training.intent_examples if e.get(TEXT)]
    x = feature_matrix(examples, classifier.layout, 1.0, 1.0)
    labels = [e.get("intent") for e in examples]
    again = calibrate(x, labels, {"out_of_scope", "oos"}, 3, 0.05, 10.0, 100, 0)
    assert again.threshold == pytest.approx(threshold)
    assert again.temperature == pytest.approx(classifier.calibration.temperature)


def test_threshold_is_sensitive_to_its_inputs(trained):
    training, featurize, classifier = trained
    heldout = load("heldout.yml").intent_examples
    leaked = featurize.messages([m.get(TEXT) for m in heldout])
    for message, source in zip(leaked, heldout):
        message.set("intent", source.get("intent"))
    examples = [e for e in training.intent_examples if e.get(TEXT)] + leaked
    x = feature_matrix(examples, classifier.layout, 1.0, 1.0)
    labels = [e.get("intent") for e in examples]
    leaky = calibrate(x, labels, {"out_of_scope", "oos"}, 3, 0.05, 10.0, 100, 0)
    assert (leaky.threshold, leaky.temperature) != (
        pytest.approx(classifier.calibration.threshold),
        pytest.approx(classifier.calibration.temperature),
    )


def test_without_out_of_scope_examples_rejection_is_simulated(storage):
    training = without_intent(load("nlu.yml"), "out_of_scope")
    featurize = Featurize(training, storage)
    classifier = IntentClassifier.create(CLASSIFIER_CONFIG, storage, Resource("no_oos"), CONTEXT)
    classifier.train(training)
    assert classifier.calibration.simulated_oos
    assert 0.0 < classifier.calibration.threshold < 1.0
    (message,) = featurize.messages(["what is the boiling point of mercury in kelvin"])
    classifier.process([message])
    assert message.get("intent")["name"] == "nlu_fallback"
    (known,) = featurize.messages(["where is my order TL-10023"])
    classifier.process([known])
    assert known.get("intent")["name"] == "order_status"


def test_simulated_rejection_has_its_own_budget(storage):
    """Without a share, ``max_in_scope_loss_simulated`` sets the threshold when no row is out
    of scope."""
    training = without_intent(load("nlu.yml"), "out_of_scope")
    Featurize(training, storage)
    thresholds = {}
    for name, budgets in {"strict": (0.05, 0.0), "loose": (0.0, 0.05)}.items():
        config = {
            **CLASSIFIER_CONFIG,
            "max_in_scope_loss": budgets[0],
            "max_in_scope_loss_simulated": budgets[1],
            "expected_oos_share": None,
            "similarity_weights": [0.0],
        }
        classifier = IntentClassifier.create(config, storage, Resource(f"sim_{name}"), CONTEXT)
        classifier.train(training)
        thresholds[name] = classifier.calibration.threshold
    assert thresholds["strict"] < thresholds["loose"]


def test_a_larger_expected_share_rejects_more(storage):
    """With simulated out-of-scope rows the threshold follows ``expected_oos_share``."""
    training = without_intent(load("nlu.yml"), "out_of_scope")
    Featurize(training, storage)
    thresholds = {}
    for share in (0.05, 0.5, 0.9):
        config = {**CLASSIFIER_CONFIG, "expected_oos_share": share, "similarity_weights": [0.0]}
        classifier = IntentClassifier.create(config, storage, Resource(f"share_{share}"), CONTEXT)
        classifier.train(training)
        thresholds[share] = classifier.calibration.threshold
    assert thresholds[0.05] < thresholds[0.5] < thresholds[0.9]


def test_similarity_weight_survives_persist_and_load(storage):
    """The chosen weight and the reference examples come back from the model storage, and
    the loaded component decides every message as the trained one did."""
    training = without_intent(load("nlu.yml"), "out_of_scope")
    featurize = Featurize(training, storage)
    config = {**CLASSIFIER_CONFIG, "similarity_weights": [8.0]}
    classifier = IntentClassifier.create(config, storage, Resource("similar"), CONTEXT)
    classifier.train(training)
    assert classifier.calibration.similarity_weight == 8.0
    loaded = IntentClassifier.load(config, storage, Resource("similar"), CONTEXT)
    assert loaded.calibration == classifier.calibration
    assert loaded.reference is not None and loaded.reference.shape[0] == len(
        training.intent_examples
    )
    texts = [m.get(TEXT) for m in load("heldout.yml").intent_examples] + [
        "what is the boiling point of mercury in kelvin",
        "zxqv plorb",
    ]
    decided = []
    for component in (classifier, loaded):
        messages = featurize.messages(texts)
        component.process(messages)
        decided.append(
            [(m.get("intent")["name"], round(m.get("intent")["confidence"], 3)) for m in messages]
        )
    assert decided[0] == decided[1]
    assert "nlu_fallback" in {name for name, _ in decided[0]}


def test_select_threshold_for_share_weighs_both_errors():
    in_scores = np.array([0.9, 0.8, 0.7, 0.4])
    in_correct = np.array([True, True, True, False])
    oos_scores = np.array([0.3, 0.5, 0.75, 0.85])
    flagged = np.zeros(4, dtype=bool)
    # share 0: rejecting only costs; the smallest threshold keeping every correct row
    assert select_threshold_for_share(in_scores, in_correct, oos_scores, flagged, 0.0)[0] == 0.0
    # share 0.5: 0.7 keeps all three correct rows and catches two (0.5*3/4 + 0.5*2/4)
    threshold, value = select_threshold_for_share(in_scores, in_correct, oos_scores, flagged, 0.5)
    assert (threshold, value) == (0.7, 0.625)
    # share 0.9: catching every out-of-scope row is worth the in-scope rows
    assert select_threshold_for_share(in_scores, in_correct, oos_scores, flagged, 0.9)[0] > 0.85
    empty = np.array([])
    assert select_threshold_for_share(in_scores, in_correct, empty, empty.astype(bool), 0.5) == (
        0.0,
        0.0,
    )


def test_with_out_of_scope_examples_the_intent_is_predicted(trained):
    _, featurize, classifier = trained
    assert not classifier.calibration.simulated_oos
    (message,) = featurize.messages(["tell me a joke about cats"])
    classifier.process([message])
    assert message.get("intent")["name"] in {"out_of_scope", "nlu_fallback"}


def test_select_threshold_trades_accuracy_for_recall():
    in_scores = np.array([0.9, 0.8, 0.7, 0.4])
    in_correct = np.array([True, True, True, False])
    oos_scores = np.array([0.3, 0.5, 0.85, 0.95])
    flagged = np.zeros(4, dtype=bool)
    # no budget: 0.7 keeps every correct in-scope row and catches 0.3 and 0.5
    assert select_threshold(in_scores, in_correct, oos_scores, flagged, 0.0) == 0.7
    # half the in-scope accuracy may go: 0.9 also catches 0.85
    assert select_threshold(in_scores, in_correct, oos_scores, flagged, 0.5) == 0.9
    # nothing to learn from without out-of-scope rows
    assert select_threshold(in_scores, in_correct, np.array([]), np.array([], bool), 0.5) == 0.0


def _look_alike_intents(seed: int) -> tuple[Design, list[str]]:
    """12 intents in 6 pairs of near neighbours, 40 rows each, 16 dense columns."""
    rng = np.random.default_rng(seed)
    centers = []
    for _ in range(6):
        centre = rng.normal(size=16)
        centre /= np.linalg.norm(centre)
        offset = rng.normal(size=16)
        offset -= offset @ centre * centre
        offset /= np.linalg.norm(offset)
        centers += [centre + 0.25 * offset, centre - 0.25 * offset]
    x = np.concatenate([c + 0.18 * rng.normal(size=(40, 16)) for c in centers])
    labels = [f"intent_{i}" for i in range(12) for _ in range(40)]
    empty = scipy.sparse.csr_matrix((len(x), 0), dtype=np.float32)
    return Design(dense=x.astype(np.float32), sparse=empty), labels


@pytest.mark.parametrize("seed", [0, 1])
def test_simulated_threshold_keeps_its_budget_on_other_folds(seed):
    """Without out-of-scope rows the in-scope cost must be measured with every intent known.

    Scoring in-scope rows with the leave-intents-out models (which miss a look-alike
    intent and are over-confident) spent 2.5-3.5 times the budget on fresh folds here.
    """
    x, labels = _look_alike_intents(seed)
    y = np.array(labels)
    budget = 0.02
    calibration = calibrate(x, labels, {"oos"}, 3, budget, 10.0, 100, 0)
    assert calibration.simulated_oos and calibration.threshold > 0.0
    losses = []
    for fold_seed in (1, 2, 3):
        correct = kept = 0
        for train, valid in StratifiedKFold(3, shuffle=True, random_state=fold_seed).split(y, y):
            model = fit_softmax(x.rows(train), list(y[train]), 10.0, 100)
            p = softmax(model.logits(x.rows(valid)), calibration.temperature)
            right = np.array(model.classes)[p.argmax(axis=1)] == y[valid]
            correct += right.sum()
            kept += (right & (p.max(axis=1) >= calibration.threshold)).sum()
        losses.append((correct - kept) / len(y))
    assert np.mean(losses) <= 1.5 * budget


def test_fold_features_see_only_each_folds_training_rows():
    """``fold_design`` (features learnt from training rows, such as an adapted encoder) is
    asked once per fold with that fold's training mask: three ordinary folds, three that
    also hold out a group of whole intents; with the same features back, the calibration is
    the one without it. Features from those masks can never have seen a held-out row."""
    x, labels = _look_alike_intents(0)
    y = np.array(labels)
    masks: list[np.ndarray] = []

    def fold_design(mask: np.ndarray) -> Design:
        masks.append(mask.copy())
        return x

    plain = calibrate(x, labels, {"oos"}, 3, 0.02, 10.0, 100, 0, expected_oos_share=0.5)
    folded = calibrate(
        x, labels, {"oos"}, 3, 0.02, 10.0, 100, 0, expected_oos_share=0.5,
        fold_design=fold_design,
    )
    assert folded == plain
    assert len(masks) == 6
    for mask in masks:
        assert 0.3 < 1 - mask.mean() < 0.8  # a third of the rows, and held-out intents
    held_out = [{i for i in set(labels) if not mask[y == i].any()} for mask in masks]
    assert held_out[:3] == [set()] * 3
    assert all(held_out[3:]) and set().union(*held_out[3:]) == set(labels)
