"""Bot messages as speakable text."""

from __future__ import annotations

from bot.speech.spoken import spoken_text


def test_text_buttons_links_and_markup():
    messages = [
        {"text": "Your order **TL-10001** ships with DHL"},
        {"text": "Track it at https://dhl.example/track?id=1", "image": "x.png"},
        {
            "text": "Anything else?",
            "buttons": [
                {"title": "Yes", "payload": "/affirm"},
                {"title": "No", "payload": "/deny"},
            ],
        },
        {"custom": {"type": "cards", "products": [{"title": "Gown"}]}},
    ]
    assert spoken_text(messages) == (
        "Your order TL-10001 ships with DHL. Track it at the link in our chat. "
        "Anything else? You can say: Yes, or No."
    )


def test_nothing_to_say():
    assert spoken_text([]) == ""
    assert spoken_text([{"image": "x.png"}, {"text": "   "}]) == ""
