"""What the channels themselves say to the customer: about the channel, not the shop (a
message they cannot read, a voice note they cannot play, an account link, a quiet caller).

Everything else a customer reads comes through a Rasa turn: ``domain.yml`` responses and
the library's ``wording.py`` modules.  Where a customer's text lives:
``docs/architecture.md`` ("Customer wording").
"""

from __future__ import annotations

# Telegram (connectors/telegram.py, telegram_outbound.py)
MEDIA_REPLY = "Sorry, I can only read text and voice notes. Please type your question."
"""Answer to a photo, sticker, document or other media without text."""
EXPIRED_BUTTON = "This button is no longer available. Please type your question."
"""Answer to a press of a button whose payload is no longer stored."""
CHOOSE = "Please choose:"
"""Text of a message that has buttons but no text (Telegram needs a text)."""

# Telegram account linking (connectors/telegram_identity.py)
LINKED = ("Your Telegram account is now linked to the shop account of {name}. I can help "
          "with your orders, cart, payments and discount codes here. Send /unlink to undo it.")
BAD_LINK = ("That link has expired or has already been used. Please make a new one on your "
            "account page in the shop.")
GROUP_LINK = "Accounts can only be linked in a private chat with me."
UNLINKED = "Done: this chat is no longer linked to a shop account."
NOT_LINKED = "This chat isn't linked to a shop account."

# Telegram voice notes (connectors/telegram_voice.py)
TOO_LONG_REPLY = (
    "Sorry, that voice note is too long for me. Please keep it under a minute, "
    "or type your question."
)
DOWNLOAD_FAILED_REPLY = (
    "Sorry, I couldn't fetch your voice note. Please send it again or type your question."
)
UNREADABLE_REPLY = (
    "Sorry, I couldn't play that voice note. Please record it again or type your question."
)
VOICE_UNAVAILABLE_REPLY = (
    "Sorry, I can't listen to voice notes right now. Please type your question."
)

# Every spoken turn (connectors/voice_turn.py) and phone calls (connectors/voice_call.py)
NOT_HEARD = "Sorry, I didn't catch that. Could you say it again?"
"""Reply to a recording in which the recogniser heard no words (no Rasa turn is run)."""
REPROMPT = "Are you still there? Tell me how I can help."
"""Said to a caller after a silence."""
GOODBYE = "I haven't heard from you, so I'll end the call now. Thanks for calling. Goodbye!"
"""Said to a caller after a second silence, before hanging up."""
PIN_PROMPT = (
    "If this phone number is registered with your account, key in your PIN and "
    "then the hash key to talk about your orders. Or just tell me how I can help."
)
"""Offered after the greeting to a caller whose number a customer registered."""
PIN_OK = "Thank you, you're verified. How can I help with your account?"
"""Said when the keyed PIN matched: the call is now the customer's."""
PIN_WRONG = (
    "Sorry, that PIN didn't match. Key it in again followed by the hash key, or "
    "carry on as a guest."
)
"""Said after a wrong PIN while tries are left."""
PIN_GIVE_UP = (
    "Sorry, that PIN didn't match either, so I'll carry on without your account. "
    "I can still look up an order by its number."
)
"""Said after the last wrong PIN of a call: it stays anonymous."""


def from_agent(name: str, text: str) -> str:
    """A message a person wrote in the agent inbox, as a chat without a name field shows it
    (Telegram: the bot's own name is on every message)."""
    return f"{name} (support team): {text}"
