"""SetFit-style adaptation of the sentence encoder's top layers to a shop's own intents.

SetFit (Tunstall et al. 2022, "Efficient Few-Shot Learning Without Prompts") fine-tunes the
sentence encoder contrastively on pairs drawn from a few labelled examples before fitting
the classifier head; its gains are largest with 8 to 64 examples per class. Here, within
``rasa train``'s budget: only the top ``top_layers`` transformer layers are trained, on
hidden states of the lower layers computed once per example (:func:`lower_states`), with
the multiple-negatives ranking loss (Henderson et al. 2017, sentence-transformers'
``MultipleNegativesRankingLoss``): each step takes an anchor and a positive example from
each of up to ``intents_per_step`` distinct intents, the other intents' positives being the
negatives; both directions are averaged. Training stops after ``epochs`` passes' worth of
anchors or ``max_seconds``, whichever comes first.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

RANKING_SCALE = 20.0
"""Cosine similarity scale of the ranking loss (sentence-transformers' default)."""


@dataclass(frozen=True)
class AdaptSettings:
    """How the encoder is adapted (see the module docstring).

    Attributes:
        top_layers: transformer layers trained, counted from the top (>= 1).
        epochs: anchors drawn per training example; steps = ``ceil(epochs * n / intents)``.
        learning_rate: AdamW learning rate.
        intents_per_step: distinct intents (anchor-positive pairs) per step, >= 2.
        max_seconds: wall-clock cap of the training loop.
        seed: seed of the pair sampling and of torch.
    """

    top_layers: int = 2
    epochs: float = 4.0
    learning_rate: float = 5e-5
    intents_per_step: int = 32
    max_seconds: float = 20.0
    seed: int = 0


def split_index(model: SentenceTransformer, top_layers: int) -> int:
    """Index of the first adapted transformer layer (0-based) of a BERT-like ``model``.

    Raises:
        ValueError: ``top_layers`` is not between 1 and the number of layers.
    """
    count = len(model[0].auto_model.encoder.layer)
    if not 1 <= top_layers <= count:
        raise ValueError(f"top_layers must be between 1 and {count}")
    return count - top_layers


def lower_states(
    model: SentenceTransformer, texts: list[str], top_layers: int, batch_size: int = 64
) -> list[torch.Tensor]:
    """Hidden states entering the top ``top_layers`` layers, one ``[n_tokens, dim]`` per text.

    Args:
        model: the sentence-transformers model (BERT-like, ``auto_model``).
        texts: the training examples.
        top_layers: as in :class:`AdaptSettings`.
        batch_size: texts per forward pass.

    Returns:
        One tensor per text, padding removed.
    """
    import torch

    bert, split = model[0].auto_model, split_index(model, top_layers)
    out: list[torch.Tensor] = []
    for first in range(0, len(texts), batch_size):
        tokenized = model.tokenizer(
            texts[first : first + batch_size],
            padding=True,
            truncation=True,
            max_length=model.max_seq_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            hidden = bert(**tokenized, output_hidden_states=True).hidden_states[split]
        for row, length in zip(hidden, tokenized["attention_mask"].sum(1).tolist()):
            out.append(row[:length].clone())
    return out


def top_embeddings(
    model: SentenceTransformer,
    layers: torch.nn.ModuleList,
    states: list[torch.Tensor],
    grad: bool = False,
) -> torch.Tensor:
    """Unit-length mean-pooled sentence embeddings ``[len(states), dim]`` of ``states``
    run through ``layers`` (the model's top layers or an adapted copy)."""
    import torch
    from transformers.masking_utils import create_bidirectional_mask

    width = max(s.shape[0] for s in states)
    hidden = torch.zeros(len(states), width, states[0].shape[1])
    mask = torch.zeros(len(states), width, dtype=torch.long)
    for i, state in enumerate(states):
        hidden[i, : state.shape[0]] = state
        mask[i, : state.shape[0]] = 1
    with torch.set_grad_enabled(grad):
        extended = create_bidirectional_mask(
            config=model[0].auto_model.config, inputs_embeds=hidden, attention_mask=mask
        )
        for layer in layers:
            output = layer(hidden, attention_mask=extended)
            hidden = output[0] if isinstance(output, tuple) else output
        weights = mask[:, :, None].to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1)


def adapt_top_layers(
    model: SentenceTransformer,
    states: list[torch.Tensor],
    labels: list[str],
    settings: AdaptSettings,
) -> torch.nn.ModuleList | None:
    """A copy of ``model``'s top layers trained with the ranking loss (``model`` unchanged).

    Args:
        model: the sentence-transformers model.
        states: :func:`lower_states` of the training examples.
        labels: each example's intent.
        settings: the adaptation's settings.

    Returns:
        The adapted layers in evaluation mode, or ``None`` when fewer than two intents
        have two examples (no pair to learn from).
    """
    import torch

    by_intent: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_intent.setdefault(label, []).append(i)
    usable = sorted(k for k, rows in by_intent.items() if len(rows) >= 2)
    if len(usable) < 2:
        return None
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    top = model[0].auto_model.encoder.layer[split_index(model, settings.top_layers) :]
    layers = copy.deepcopy(top)
    layers.train()
    optimiser = torch.optim.AdamW(layers.parameters(), lr=settings.learning_rate)
    per_step = min(settings.intents_per_step, len(usable))
    steps = math.ceil(settings.epochs * len(labels) / per_step)
    deadline = time.monotonic() + settings.max_seconds
    for _ in range(steps):
        pairs = [rng.sample(by_intent[k], 2) for k in rng.sample(usable, per_step)]
        chosen = [states[a] for a, _ in pairs] + [states[p] for _, p in pairs]
        embedded = top_embeddings(model, layers, chosen, grad=True)
        similarity = RANKING_SCALE * embedded[:per_step] @ embedded[per_step:].T
        target = torch.arange(per_step)
        loss = (
            torch.nn.functional.cross_entropy(similarity, target)
            + torch.nn.functional.cross_entropy(similarity.T, target)
        ) / 2
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if time.monotonic() > deadline:
            break
    layers.eval()
    return layers


def embed_states(
    model: SentenceTransformer,
    layers: torch.nn.ModuleList,
    states: list[torch.Tensor],
    batch_size: int = 256,
) -> np.ndarray:
    """:func:`top_embeddings` in batches, as a float32 array ``[len(states), dim]``."""
    return np.concatenate(
        [
            top_embeddings(model, layers, states[i : i + batch_size]).numpy()
            for i in range(0, len(states), batch_size)
        ]
    ).astype(np.float32)


def with_top_layers(
    model: SentenceTransformer, state: dict[str, torch.Tensor], top_layers: int
) -> SentenceTransformer:
    """A copy of ``model`` whose top ``top_layers`` layers carry ``state`` (``model`` and
    every other user of it, such as product search, keep the original weights).

    Args:
        model: the base model.
        state: ``state_dict()`` of the adapted layers (a ``ModuleList``).
        top_layers: how many layers ``state`` covers.

    Returns:
        The copy, in evaluation mode.

    Raises:
        RuntimeError: ``state`` does not fit those layers.
    """
    adapted = copy.deepcopy(model)
    layers = adapted[0].auto_model.encoder.layer[split_index(adapted, top_layers) :]
    layers.load_state_dict(state)
    adapted.eval()
    return adapted
