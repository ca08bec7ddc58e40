import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot.dialogue.action_validation import _validate_action_result, install

GOOD = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "hi"}]}
BAD = {"events": "not a list", "responses": []}


def test_installed_on_remote_action():
    install()
    assert RemoteAction._validate_action_result is _validate_action_result


def test_same_verdicts_as_jsonschema_validate():
    schema = RemoteAction.action_response_format_spec()
    action = RemoteAction("action_x", None)
    jsonschema.validate(GOOD, schema)
    assert action._validate_action_result(GOOD) is True
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(BAD, schema)
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server"):
        action._validate_action_result(BAD)
