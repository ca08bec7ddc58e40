"""``TOUCHLINE_VOICE_ON_DEMAND``: a Rasa server that takes no calls starts without the
speech engines (``testing.stack.stack_env`` sets it; the call tests in ``test_voice.py``
and ``test_voice_workers.py`` set it off and wait for the engines loaded at start)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_the_speech_engines_load_at_their_first_use_and_no_openings_are_prepared(stack):
    log = stack.log("rasa").read_text()
    assert "voice: speech engines load at the first call" in log
    assert "voice: whisper recognizer" not in log and "reply openings" not in log
    r = httpx.get(f"{stack.url}/webhooks/voice/", timeout=120)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "asr": "whisper", "tts": "piper"}
    assert "reply openings" not in stack.log("rasa").read_text()
