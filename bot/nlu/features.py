"""Sentence-level feature matrices from the features Rasa featurizers put on messages.

Each featurizer's sentence feature (identified by its ``origin``, the featurizer's alias or
node name) is one block; every block is L2-normalised per row, so that a block's scale
does not depend on message length or vocabulary size, then weighted (dense blocks by
``dense_weight``, sparse ones by ``sparse_weight``). Dense blocks are concatenated into a
numpy array and sparse blocks into a CSR matrix (:class:`Design`), so that the linear
model multiplies each with the fast kernel for its kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message


@dataclass(frozen=True)
class BlockLayout:
    """Which featurizer blocks make up a feature row, in order, with their widths.

    Attributes:
        origins: featurizer origins (alias or graph node name), sorted.
        widths: number of columns of each block.
        dense: whether each block is dense.
    """

    origins: tuple[str, ...]
    widths: tuple[int, ...]
    dense: tuple[bool, ...]

    @staticmethod
    def from_messages(messages: list[Message], featurizers: list[str]) -> BlockLayout:
        """Collect the blocks present on ``messages`` (restricted to ``featurizers`` if set).

        Args:
            messages: featurized training messages.
            featurizers: origins to use; empty means all.

        Returns:
            The layout; a block keeps the width of its first occurrence.
        """
        found: dict[str, tuple[int, bool]] = {}
        for message in messages:
            for feature in _sentence_features(message, featurizers):
                found.setdefault(
                    feature.origin, (feature.features.shape[-1], not feature.is_sparse())
                )
        origins = tuple(sorted(found))
        return BlockLayout(
            origins=origins,
            widths=tuple(found[o][0] for o in origins),
            dense=tuple(found[o][1] for o in origins),
        )

    def to_dict(self) -> dict[str, list]:
        """JSON-serialisable form (inverse of :meth:`from_dict`)."""
        return {
            "origins": list(self.origins),
            "widths": list(self.widths),
            "dense": list(self.dense),
        }

    def dense_columns(self, origin: str, width: int) -> slice | None:
        """The columns of ``origin``'s dense block in :attr:`Design.dense`, or ``None`` when
        the layout has no dense block of that origin and ``width``."""
        column = 0
        for name, size, is_dense in zip(self.origins, self.widths, self.dense):
            if is_dense and name == origin and size == width:
                return slice(column, column + size)
            column += size if is_dense else 0
        return None

    @staticmethod
    def from_dict(data: dict[str, list]) -> BlockLayout:
        """Rebuild a layout from :meth:`to_dict` output."""
        return BlockLayout(
            origins=tuple(data["origins"]),
            widths=tuple(int(w) for w in data["widths"]),
            dense=tuple(bool(d) for d in data["dense"]),
        )


def _sentence_features(message: Message, featurizers: list[str]) -> list:
    """The message's TEXT sentence features, optionally restricted to ``featurizers``."""
    return [
        f
        for f in message.features
        if f.attribute == TEXT
        and f.type == FEATURE_TYPE_SENTENCE
        and (not featurizers or f.origin in featurizers)
    ]


def dense_row(vector: np.ndarray, dense_weight: float) -> np.ndarray:
    """A dense block's row as the design matrix holds it: ``vector`` (float32) L2-normalised
    and multiplied by ``dense_weight``; a zero vector stays zero."""
    norm = float(np.linalg.norm(vector))
    return vector * (dense_weight / norm if norm else 0.0)


@dataclass(frozen=True)
class Design:
    """Design matrix split into its dense and sparse columns.

    Attributes:
        dense: shape ``[n, d_dense]``, float32 (the dense blocks, in layout order).
        sparse: CSR, shape ``[n, d_sparse]``, float32 (the sparse blocks, in layout order).
    """

    dense: np.ndarray
    sparse: scipy.sparse.csr_matrix

    def __len__(self) -> int:
        """Number of rows."""
        return self.dense.shape[0]

    def rows(self, index: np.ndarray) -> Design:
        """The rows selected by an integer or boolean ``index``."""
        return Design(dense=self.dense[index], sparse=self.sparse[index])


def feature_matrix(
    messages: list[Message],
    layout: BlockLayout,
    dense_weight: float,
    sparse_weight: float,
) -> Design:
    """Build the design matrix for ``messages``.

    Args:
        messages: featurized messages.
        layout: the blocks to use (from training); a block missing on a message, or with
            a different width, contributes zeros.
        dense_weight: multiplier of each L2-normalised dense block.
        sparse_weight: multiplier of each L2-normalised sparse block.

    Returns:
        The :class:`Design` with ``len(messages)`` rows.
    """
    d_dense = sum(w for w, d in zip(layout.widths, layout.dense) if d)
    d_sparse = sum(w for w, d in zip(layout.widths, layout.dense) if not d)
    dense = np.zeros((len(messages), d_dense), dtype=np.float32)
    # The sparse part is assembled as CSR arrays directly: building and stacking one small
    # scipy matrix per block and row cost more than the rest of a single-message parse.
    data: list[np.ndarray] = []
    indices: list[np.ndarray] = []
    indptr = np.zeros(len(messages) + 1, dtype=np.int64)
    for row, message in enumerate(messages):
        by_origin = {f.origin: f for f in _sentence_features(message, list(layout.origins))}
        column, offset, stored = 0, 0, 0
        for origin, width, is_dense in zip(layout.origins, layout.widths, layout.dense):
            feature = by_origin.get(origin)
            usable = feature is not None and feature.features.shape[-1] == width
            if is_dense:
                if usable:
                    vector = np.asarray(feature.features, dtype=np.float32).reshape(-1)
                    dense[row, column : column + width] = dense_row(vector, dense_weight)
                column += width
                continue
            if usable:
                block = scipy.sparse.csr_matrix(feature.features)  # sums duplicate entries
                values = block.data.astype(np.float32)
                norm = float(np.sqrt(np.dot(values, values)))
                data.append(values * (sparse_weight / norm) if norm > 0 else values)
                indices.append(block.indices.astype(np.int64) + offset)
                stored += len(values)
            offset += width
        indptr[row + 1] = indptr[row] + stored
    sparse = scipy.sparse.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, dtype=np.float32),
            np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
            indptr,
        ),
        shape=(len(messages), d_sparse),
        dtype=np.float32,
    )
    return Design(dense=dense, sparse=sparse)
