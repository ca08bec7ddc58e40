"""Speculative turns of a phone call: what Rasa would do with an early transcript.

While the caller pauses, the early transcript goes through Rasa's NLU and dialogue
policies on a copy of the conversation that is never saved, so nothing happens that could
not be taken back: no event is stored, no custom action runs, no slot is extracted (Rasa's
``action_extract_slots`` may call the action server), nothing is sent.  Only when the next
action is a response (``utter_*``) is its text rendered, from the domain's templates, so
the call can synthesise the opening of the reply ahead of time.

When the next action is a custom action that only reads
(:data:`bot.dialogue.rehearsal.READ_ONLY_ACTIONS`: product search, kick predictions), the
call may rehearse it (:meth:`Speculator.rehearse`): the action server runs it on the copy,
whose user message is marked as a rehearsal, and its reply's opening is synthesised ahead
too.  The action server refuses to rehearse any action that writes.

When the caller stays quiet, the call commits the turn: the user message goes to Rasa as
usual with the speculative parse attached (``UserMessage.parse_data``, which Rasa 3.6's
``MessageProcessor._handle_message_with_tracker`` uses instead of parsing again), so the
policies predict and the action runs at once, with its side effects, exactly once.  When
the caller talks again, the speculation is dropped (:mod:`connectors.voice_call`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.dialogue.rehearsal import READ_ONLY_ACTIONS, rehearsal_metadata
from bot.speech.asr import Transcript
from bot.speech.spoken import spoken_text
from connectors.sanitize import sanitize_message

logger = logging.getLogger(__name__)

FALLBACK_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})
"""Intents that are not a request NLU understood (see :attr:`Speculation.understood`)."""


@dataclass(frozen=True)
class Speculation:
    """Rasa's reading of an early transcript, not saved anywhere.

    Attributes:
        transcript: the early transcript.
        text: the user text Rasa would get (the transcript after sanitising).
        parse_data: the NLU result for ``text`` (Rasa's parse data dict).
        action: the next action the policies predict (``None`` when there are none).
        reply: the speakable text of that action when it is a response, else ``""``.
        tracker: the unsaved copy of the conversation with the early message (marked as a
            rehearsal's, :mod:`bot.dialogue.rehearsal`), for :meth:`Speculator.rehearse`.
    """

    transcript: Transcript
    text: str
    parse_data: dict[str, Any]
    action: str | None
    reply: str
    tracker: DialogueStateTracker | None = field(default=None, compare=False, repr=False)

    @property
    def rehearsable(self) -> bool:
        """Whether :attr:`action` is a custom action that only reads."""
        return self.action in READ_ONLY_ACTIONS and self.tracker is not None

    @property
    def intent(self) -> str | None:
        """The predicted intent's name."""
        return (self.parse_data.get("intent") or {}).get("name")

    @property
    def understood(self) -> bool:
        """Whether NLU found a real request (no fallback or out-of-scope intent)."""
        return self.intent is not None and self.intent not in FALLBACK_INTENTS


def response_openers(agent: Agent) -> list[str]:
    """The speakable texts of the domain's responses (every variation without a slot
    placeholder), whose openings a phone call prepares at server start.

    Args:
        agent: the Rasa server's agent (``app.ctx.agent``).

    Returns:
        The texts, in domain order; empty when no model is loaded.
    """
    domain = agent.domain
    if domain is None:
        return []
    texts = (spoken_text([variation]) for variations in domain.responses.values()
             for variation in variations if "{" not in str(variation.get("text", "")))
    return [t for t in dict.fromkeys(texts) if t]


class Speculator:
    """Runs early transcripts through a loaded Rasa agent without side effects.

    Args:
        agent: the Rasa server's agent (``app.ctx.agent``).
        input_channel: the channel name recorded on the user event.
    """

    def __init__(self, agent: Agent, input_channel: str) -> None:
        self.agent = agent
        self.input_channel = input_channel

    async def predict(self, sender_id: str, transcript: Transcript,
                      metadata: dict[str, Any]) -> Speculation | None:
        """What Rasa would do if ``transcript`` were the caller's message now.

        Args:
            sender_id: the conversation id.
            transcript: the early transcript.
            metadata: the channel metadata the committed message will carry.

        Returns:
            The speculation; ``None`` when the conversation does not exist yet or the agent
            has no model (any error is logged, never raised: speculation is optional).
        """
        processor = self.agent.processor
        if processor is None:
            return None
        try:
            tracker = await processor.tracker_store.retrieve(sender_id)
            if tracker is None:
                return None
            text, meta = sanitize_message(transcript.text, metadata)
            message = UserMessage(text, CollectingOutputChannel(), sender_id,
                                  input_channel=self.input_channel, metadata=meta)
            parse = await processor.parse_message(message, tracker)
            tracker.update(UserUttered(text, parse["intent"], parse["entities"], parse,
                                       input_channel=self.input_channel,
                                       metadata=rehearsal_metadata(meta)),
                           processor.domain)
            prediction = processor._predict_next_with_tracker(tracker)
            names = processor.domain.action_names_or_texts
            index = prediction.max_confidence_index
            action = names[index] if 0 <= index < len(names) else None
            reply = ""
            if action is not None and action in processor.domain.responses:
                generated = await processor.nlg.generate(action, tracker,
                                                         self.input_channel)
                reply = spoken_text([generated]) if generated else ""
        except Exception:
            logger.exception("speculative turn of %s failed", sender_id)
            return None
        return Speculation(transcript, text, parse, action, reply, tracker)

    async def rehearse(self, guess: Speculation) -> str:
        """Run ``guess``'s read-only custom action on its unsaved copy of the conversation
        (the action server sees a rehearsal, :mod:`bot.dialogue.rehearsal`) and return
        what the caller would hear.

        Args:
            guess: a speculation whose action is :attr:`Speculation.rehearsable`.

        Returns:
            The speakable reply; ``""`` when the action is not rehearsable, there is no
            action server, or the rehearsal failed (logged, never raised).
        """
        processor = self.agent.processor
        if (processor is None or not guess.rehearsable or guess.action is None
                or guess.tracker is None or processor.action_endpoint is None):
            return ""
        try:
            events = await RemoteAction(guess.action, processor.action_endpoint).run(
                CollectingOutputChannel(), processor.nlg, guess.tracker, processor.domain)
        except Exception:
            logger.exception("rehearsal of %s failed", guess.action)
            return ""
        return spoken_text([e.message() for e in events if isinstance(e, BotUttered)])
