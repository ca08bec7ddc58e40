import numpy as np
import scipy.sparse
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.features import BlockLayout, feature_matrix


def message(dense=None, words=None, chars=None) -> Message:
    m = Message(data={TEXT: "x"})
    if dense is not None:
        m.add_features(
            Features(np.array([dense], dtype=np.float32), FEATURE_TYPE_SENTENCE, TEXT, "minilm")
        )
    for origin, row in (("words", words), ("chars", chars)):
        if row is not None:
            m.add_features(
                Features(
                    scipy.sparse.coo_matrix(np.array([row], dtype=np.float32)),
                    FEATURE_TYPE_SENTENCE,
                    TEXT,
                    origin,
                )
            )
    return m


def test_blocks_are_unit_rows_times_their_weight_and_missing_blocks_are_zero():
    layout = BlockLayout(
        origins=("chars", "minilm", "words"), widths=(2, 3, 4), dense=(False, True, False)
    )
    messages = [
        message(dense=[3, 0, 4], words=[0, 2, 0, 0], chars=[1, 1]),
        message(words=[1, 0, 0, 1]),  # no dense block, no chars block
        message(dense=[0, 0, 0], words=[0, 0, 0, 0, 9]),  # zero vector; wrong width: zeros
        message(),
    ]
    x = feature_matrix(messages, layout, dense_weight=2.0, sparse_weight=0.5)
    np.testing.assert_allclose(x.dense, [[1.2, 0, 1.6], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    assert x.sparse.dtype == np.float32 and x.sparse.shape == (4, 6)
    h = np.sqrt(0.5) * 0.5
    np.testing.assert_allclose(
        x.sparse.toarray(),
        [[h, h, 0, 0.5, 0, 0], [0, 0, h, 0, 0, h], [0] * 6, [0] * 6],
        rtol=1e-6,
    )


def test_no_messages_and_no_sparse_blocks():
    dense_only = BlockLayout(origins=("minilm",), widths=(3,), dense=(True,))
    x = feature_matrix([message(dense=[0, 2, 0])], dense_only, 1.0, 1.0)
    assert x.sparse.shape == (1, 0)
    np.testing.assert_allclose(x.dense, [[0, 1, 0]])
    empty = feature_matrix([], dense_only, 1.0, 1.0)
    assert empty.dense.shape == (0, 3) and empty.sparse.shape == (0, 0)
