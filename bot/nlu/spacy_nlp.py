"""``SpacyNLP`` that loads a spaCy folder and packs it into the trained Rasa model.

Rasa 3.6's own ``SpacyNLP`` calls ``spacy.load(model)`` both at training and at every
server start, so a model tarball depends on a spaCy pipeline installed on the serving
machine. This subclass, used as ``name: bot.nlu.spacy_nlp.SpacyNLP`` with
``model: var/spacy/en_touchline`` (built by ``python -m bot.nlu.spacy_build``):

- at training (``create``) loads the folder and copies it into its ``ModelStorage``
  resource, so the folder travels inside ``models/*.tar.gz``;
- at inference (``load``) reads the pipeline from that resource, never from ``model``;
- fingerprints the pipeline by the folder's content, so Rasa retrains what depends on it
  when the EntityRuler patterns change;
- with ``build_if_missing: true`` (the default) builds the folder first when it does not
  exist (:func:`bot.nlu.spacy_build.build` from the committed ``data/entities`` and
  ``data/nlu``), so a fresh clone trains without an extra step; training never opens a
  database.

The class keeps the name ``SpacyNLP`` on purpose: Rasa's recipe connects
``SpacyTokenizer``/``SpacyEntityExtractor`` to the node whose class is *named*
``SpacyNLP`` (``model_from="SpacyNLP"`` in ``rasa/engine/recipes/default_recipe.py``).
Registering it replaces the registry entry ``SpacyNLP`` in the importing process.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import spacy
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.model import InvalidModelError
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.nlu.utils.spacy_utils import SpacyNLP as RasaSpacyNLP

from bot.nlu.spacy_build import build

PACKED_DIR = "spacy_pipeline"


def folder_digest(folder: Path) -> str:
    """SHA-256 over the relative paths and bytes of every file under ``folder``.

    Returns:
        The first 16 hex digits.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _load_folder(folder: Path, label: str) -> SpacyModel:
    """``spacy.load`` a pipeline folder (parser disabled, as Rasa does).

    Raises:
        InvalidModelError: ``folder`` is not a spaCy pipeline.
    """
    if not (folder / "config.cfg").is_file():
        raise InvalidModelError(
            f"'{label}' is not a spaCy pipeline folder; build it with "
            f"`python -m bot.nlu.spacy_build`."
        )
    nlp = spacy.load(folder, disable=["parser"])
    return SpacyModel(model=nlp, model_name=f"{label}#{folder_digest(folder)}")


@DefaultV1Recipe.register(
    [
        DefaultV1Recipe.ComponentType.MODEL_LOADER,
        DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER,
    ],
    is_trainable=False,
    model_from="SpacyNLP",
)
class SpacyNLP(RasaSpacyNLP):
    """Rasa's ``SpacyNLP`` whose pipeline folder is stored in the trained model."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Rasa's defaults, but ``case_sensitive: true``, plus ``build_if_missing``.

        ``case_sensitive: false`` makes Rasa lower-case the text before spaCy runs, and
        lower-casing can change a string's length (``"İ".lower()`` is two code points),
        which would shift every later token and entity offset. The EntityRuler matches
        on ``LOWER`` anyway, so nothing is lost by keeping the original case.
        """
        return {
            **RasaSpacyNLP.get_default_config(),
            "case_sensitive": True,
            "build_if_missing": True,
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpacyNLP:
        """Load ``config["model"]`` (a folder) and copy it into ``resource``.

        Raises:
            InvalidModelError: ``model`` is missing or not a spaCy pipeline folder.
        """
        config = {**cls.get_default_config(), **config}
        folder = Path(str(config.get("model") or ""))
        if config["build_if_missing"] and config.get("model") and not folder.exists():
            build(folder)  # from the repository's data files only
        model = _load_folder(folder, str(config.get("model")))
        with model_storage.write_to(resource) as directory:
            shutil.copytree(folder, directory / PACKED_DIR, dirs_exist_ok=True)
        return cls(model, config)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SpacyNLP:
        """Load the pipeline packed at training (falls back to ``create`` if none).

        Raises:
            InvalidModelError: neither a packed pipeline nor ``model`` is usable.
        """
        try:
            with model_storage.read_from(resource) as directory:
                model = _load_folder(directory / PACKED_DIR, str(config.get("model")))
        except ValueError:
            return cls.create(config, model_storage, resource, execution_context)
        return cls(model, {**cls.get_default_config(), **config})
