"""Validate action-server responses with a validator built once, not once per call.

Rasa 3.6's ``RemoteAction._validate_action_result`` (``rasa/core/actions/action.py``) calls
``jsonschema.validate(result, schema)`` for every custom-action response, and
``jsonschema.validate`` first re-checks the schema itself against its meta-schema. With 32
concurrent conversations that meta-schema check was a third of the Rasa server's CPU time
(sampled with py-spy, ``bench/turn_latency.py``). :func:`install` replaces the method with
one that validates against the same schema through a cached validator: the same responses
pass and fail, with the same ``ValidationError`` message suffix.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@lru_cache(maxsize=1)
def _validator() -> Any:  # noqa: ANN401  (a jsonschema Validator instance)
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Drop-in for ``RemoteAction._validate_action_result``.

    Returns:
        ``True`` when ``result`` matches Rasa's action response schema.

    Raises:
        jsonschema.ValidationError: when it does not (message as in Rasa).
    """
    try:
        _validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your "
            "response from the Action endpoint is valid. For more information about the "
            f"format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise e


def install() -> None:
    """Use the cached validator in every ``RemoteAction`` of this process (idempotent)."""
    RemoteAction._validate_action_result = _validate_action_result
