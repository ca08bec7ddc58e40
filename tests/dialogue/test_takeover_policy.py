from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.config import PROJECT_ROOT
from bot.dialogue.takeover_policy import TakeoverPolicy


def make_policy(tmp_path):
    storage = LocalModelStorage(tmp_path)
    return TakeoverPolicy.create(
        TakeoverPolicy.get_default_config(),
        storage,
        Resource("takeover"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def predicted(policy, domain, events):
    tracker = DialogueStateTracker.from_events("s", events, domain.slots)
    prediction = policy.predict_action_probabilities(tracker, domain)
    if max(prediction.probabilities) == 0:
        return None
    return domain.action_names_or_texts[prediction.max_confidence_index]


def test_silence_during_takeover_and_abstain_otherwise(tmp_path):
    domain = Domain.load(PROJECT_ROOT / "domain.yml")
    policy = make_policy(tmp_path)
    start = [ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet"})]
    assert predicted(policy, domain, start) is None
    held = [SlotSet("human_takeover", True), *start]
    assert predicted(policy, domain, held) == "action_takeover_check"
    after = [*held, ActionExecuted("action_takeover_check")]
    assert predicted(policy, domain, after) == "action_listen"
    released = [
        *after,
        SlotSet("human_takeover", False),
        ActionExecuted("action_listen"),
        UserUttered("hello", {"name": "greet"}),
    ]
    assert predicted(policy, domain, released) is None
