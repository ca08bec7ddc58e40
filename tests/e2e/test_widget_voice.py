"""The widget's microphone in headless Chromium against real servers.

A Rasa server + action server (``testing.stack.Stack``, with ``--cors`` for the demo
shop's origin) and the FastAPI service (demo shop page and ``/widget.js``) run on free
ports.  Chromium's fake microphone plays a WAV file that Touchline's own synthesiser (Piper)
spoke; the widget records it with MediaRecorder, posts it to the voice gateway
(``connectors/voice.py``, Whisper inside the Rasa server) and shows and plays the answer.

Two browsers: one "speaks" (fake capture of the spoken WAV, permission prompts accepted by
``--use-fake-ui-for-media-stream``), one is quiet (fake capture of digital silence, the
microphone permission granted or not per context, and ``shop.test`` mapped to 127.0.0.1 so
the shop can be opened from an insecure origin, where browsers offer no getUserMedia).
The screenshots for the README go to ``docs/img/widget-voice*.png``.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, Response, sync_playwright

from bot.speech.audio import Audio, decode, encode, silence
from bot.speech.engines import shared_engines
from testing.stack import Stack, free_port, stack_env, wait_http
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.screenshots import save_screenshot
from tests.e2e.test_widget import GREET, WAIT_MS, Widget

pytestmark = pytest.mark.slow

SECRET = "widget-voice-test-secret-0123456789"
SAID = "I have a problem with my payment"
RATE = 48000
INSECURE_HOST = "shop.test"
ROOT = "document.querySelector('#touchline-chat').shadowRoot"
MIC = "#touchline-chat .mic"
PLAYER = "#touchline-chat .reply-audio"
NOTICE = "#touchline-chat .notice"


def words(text: str) -> set[str]:
    """Lower-case words of ``text`` without punctuation."""
    return set(re.findall(r"[a-z0-9']+", text.lower()))


# ---- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop_port() -> int:
    """The demo shop's port, known before Rasa starts (Rasa's ``--cors`` names its origin)."""
    return free_port()


@pytest.fixture(scope="module")
def voice_stack(model, tmp_path_factory, shop_port: int) -> Iterator[Stack]:
    """Rasa + actions allowing the shop's origin; waits until the speech engines are loaded."""
    work = tmp_path_factory.mktemp("widget-voice")
    env = stack_env(work, TOUCHLINE_ACTION_TIMEOUT_S="60", TOUCHLINE_SESSION_SECRET=SECRET)
    stack = Stack(work, model, env, cors=(f"http://127.0.0.1:{shop_port}",)).start()
    try:
        wait_http(f"{stack.url}/webhooks/voice/", stack.procs["rasa"], stack.log("rasa"))
        stack.say("warm-up", "hello", timeout=180)
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def shop(voice_stack: Stack, shop_port: int) -> str:
    """The FastAPI service (demo page + widget files); its base URL."""
    return voice_stack.start_api(shop_port)


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory) -> tuple[Path, float]:
    """What the customer says, spoken by Piper with 1 s of silence either side, as a 16-bit
    48 kHz WAV for Chromium's fake microphone; the path and its length in seconds."""
    speech: Audio = functools.reduce(Audio.then, shared_engines().synthesizer.speak(SAID))
    audio = silence(1.0, RATE).then(speech).then(silence(1.0, RATE)).at(RATE)
    path = tmp_path_factory.mktemp("mic") / "payment.wav"
    path.write_bytes(encode(audio, "wav"))
    return path, audio.seconds


@pytest.fixture(scope="module")
def silent_wav(tmp_path_factory) -> Path:
    """Three seconds of digital silence as a 16-bit 48 kHz WAV."""
    path = tmp_path_factory.mktemp("mic") / "silence.wav"
    path.write_bytes(encode(silence(3.0, RATE), "wav"))
    return path


@pytest.fixture(scope="module")
def pw() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


def launch(playwright: Playwright, *args: str) -> Browser:
    """Debian's Chromium, headless, with the widget tests' flags plus ``args``."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                      args=[*CHROMIUM_ARGS, *args])


@pytest.fixture(scope="module")
def speaking_browser(pw: Playwright, spoken_wav) -> Iterator[Browser]:
    """Chromium whose microphone (always allowed) plays the spoken WAV, looped."""
    browser = launch(pw, "--use-fake-ui-for-media-stream",
                     "--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-audio-capture={spoken_wav[0]}")
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def quiet_browser(pw: Playwright, silent_wav: Path) -> Iterator[Browser]:
    """Chromium whose microphone hears silence; permission only where a context grants it."""
    browser = launch(pw, "--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-audio-capture={silent_wav}",
                     f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1")
    yield browser
    browser.close()


# ---- helpers ---------------------------------------------------------------------------


def mic_state(tab: Widget) -> dict:
    """The mic button's state, pressed state and label, and the voice status line."""
    return tab.page.evaluate(
        f"""() => {{ const r = {ROOT}; const b = r.querySelector('.mic');
                    const line = r.querySelector('.voice-state');
                    return {{state: b.dataset.state, pressed: b.getAttribute('aria-pressed'),
                             label: b.getAttribute('aria-label'),
                             line: line.hidden ? '' : line.textContent}}; }}"""
    )


def wait_mic(tab: Widget, state: str) -> None:
    tab.page.wait_for_function(
        f"s => {ROOT}.querySelector('.mic').dataset.state === s", arg=state, timeout=WAIT_MS
    )


def wait_notice(tab: Widget, text: str) -> None:
    tab.page.locator(NOTICE, has_text=text).wait_for(timeout=WAIT_MS)


def player(tab: Widget) -> dict:
    """The reply player's data attributes and ``src``."""
    return tab.page.evaluate(
        f"() => {{ const a = {ROOT}.querySelector('.reply-audio');"
        " return {...a.dataset, src: a.getAttribute('src') || ''}; }"
    )


def wait_reply_audio(tab: Widget) -> dict:
    """Wait until the player loaded a reply (its duration is known); its attributes."""
    tab.page.wait_for_function(
        f"() => Number({ROOT}.querySelector('.reply-audio').dataset.duration) > 0",
        timeout=WAIT_MS,
    )
    return player(tab)


def is_utterance(response: Response) -> bool:
    """The widget's POST to the voice gateway."""
    return response.request.method == "POST" and "/webhooks/voice/utterance?" in response.url


def user_events(stack: Stack, session_id: str) -> list[dict]:
    return [e for e in stack.tracker(session_id)["events"] if e["event"] == "user"]


# ---- tests -----------------------------------------------------------------------------


def test_spoken_payment_question_gets_the_payment_flow_in_text_and_voice(
    speaking_browser, shop, voice_stack, spoken_wav
):
    context = speaking_browser.new_context(viewport={"width": 1280, "height": 720})
    tab = Widget(context, shop).open()
    session_id = tab.session()["session_id"]
    tab.send("hello")  # typed and spoken turns share one conversation
    tab.wait_bots(1)
    other = Widget(context, shop).open()  # a second tab of the same session
    assert other.session()["session_id"] == session_id
    other.wait_bots(1)

    mic = tab.page.locator(MIC)
    assert mic.is_visible()
    assert mic_state(tab) == {"state": "idle", "pressed": "false",
                              "label": "Record a voice message", "line": ""}
    mic.focus()
    tab.page.keyboard.press("Space")  # a plain <button>: the keyboard works as a click
    wait_mic(tab, "recording")
    state = mic_state(tab)
    assert state["pressed"] == "true" and state["label"] == "Stop recording and send"
    assert state["line"].startswith("Listening")
    save_screenshot(tab.page, "widget-voice-listening.png")
    tab.page.wait_for_timeout(spoken_wav[1] * 1000 + 300)  # the whole file, not its loop
    with tab.page.expect_response(is_utterance, timeout=WAIT_MS) as posted:
        mic.click()
        wait_mic(tab, "sending")
        assert mic_state(tab)["line"] == "Thinking…"
    tab.wait_bots(2)
    wait_mic(tab, "idle")
    assert mic_state(tab)["pressed"] == "false"

    shown = tab.messages()
    assert shown[:2] == [("user", "hello"), ("bot", shown[1][1])]
    assert shown[1][1].startswith(GREET)
    (who, transcript), (_, reply) = shown[2:]
    assert who == "user" and "payment" in transcript.lower()
    assert "sign in" in reply  # payment_issue needs a signed-in customer
    spoken = tab.page.locator("#touchline-chat .msg.user.spoken")
    assert spoken.count() == 1 and spoken.text_content() == transcript
    assert spoken.locator("svg[aria-label='Spoken message']").count() == 1
    other.wait_bots(2)  # the other tab sees the spoken turn live, marked as spoken
    assert other.messages() == shown
    assert other.page.locator("#touchline-chat .msg.user.spoken").text_content() == transcript
    other.page.close()

    hello, said = user_events(voice_stack, session_id)
    assert hello["input_channel"] == "socketio"
    assert said["input_channel"] == "voice"
    assert said["parse_data"]["intent"]["name"] == "payment_issue"
    assert said["metadata"]["voice"]["transcript"] == transcript
    assert {"problem", "payment"} <= words(said["text"])

    answer = posted.value
    assert answer.status == 200
    assert answer.request.headers["content-type"].startswith("audio/webm")
    assert "reply_format=ogg" in answer.url  # Chromium plays OGG/Opus: the smaller reply
    body = answer.json()
    assert body["transcript"] == transcript and body["session_id"] == session_id
    spoken_reply = base64.b64decode(body["audio"]["base64"])
    audio = wait_reply_audio(tab)
    assert audio["src"].startswith("blob:") and int(audio["bytes"]) == len(spoken_reply)
    assert float(audio["duration"]) > 1.0
    heard = shared_engines().recognizer.transcribe(decode(spoken_reply)).text
    assert len(words(heard) & words(reply)) >= 5, heard  # the voice reads the text reply
    tab.page.wait_for_function(  # it plays: blob: media allowed, autoplay after the click
        f"() => ['playing', 'ended'].includes({ROOT}.querySelector('.reply-audio')"
        ".dataset.state)", timeout=WAIT_MS,
    )
    save_screenshot(tab.page, "widget-voice.png")

    # The voice reply's quick replies work like a typed reply's.
    tab.page.locator("#touchline-chat .quick-reply", has_text="Talk to a person").click()
    tab.wait_bots(3)
    assert tab.messages()[-2] == ("user", "Talk to a person")
    assert "person" in tab.bot_texts()[-1]

    before = tab.messages()
    tab.page.reload()
    tab.page.wait_for_function(
        f"n => {ROOT}.querySelectorAll('.msg').length >= n", arg=len(before), timeout=WAIT_MS
    )
    assert tab.messages() == before
    assert tab.page.locator("#touchline-chat .msg.user.spoken").text_content() == transcript
    tab.assert_clean()
    context.close()


def test_silence_gets_a_polite_notice_and_escape_drops_a_recording(
    quiet_browser, shop, voice_stack
):
    context = quiet_browser.new_context(permissions=["microphone"])
    tab = Widget(context, shop).open()
    session_id = tab.session()["session_id"]
    mic = tab.page.locator(MIC)

    mic.click()
    wait_mic(tab, "recording")
    tab.page.keyboard.press("Escape")  # drops the recording, keeps the chat open
    wait_mic(tab, "idle")
    assert tab.page.locator("#touchline-chat .panel").is_visible()

    mic.click()
    wait_mic(tab, "recording")
    tab.page.wait_for_timeout(1500)
    mic.click()
    wait_notice(tab, "didn't catch that")
    wait_mic(tab, "idle")
    assert tab.page.locator(NOTICE).count() == 1
    assert tab.messages() == []
    assert wait_reply_audio(tab)["bytes"]  # the apology is spoken too
    assert user_events(voice_stack, session_id) == []  # nothing heard: no Rasa turn

    tab.send("hello")  # the widget carries on
    tab.wait_bots(1)
    assert tab.bot_texts()[0].startswith(GREET)
    tab.assert_clean()
    context.close()


def test_blocked_microphone_gets_a_polite_notice(quiet_browser, shop):
    context = quiet_browser.new_context()  # microphone permission not granted: denied
    tab = Widget(context, shop).open()
    tab.page.locator(MIC).click()
    wait_notice(tab, "Microphone access is blocked")
    wait_mic(tab, "idle")
    assert mic_state(tab)["pressed"] == "false"
    assert tab.messages() == []
    tab.send("hello")
    tab.wait_bots(1)
    tab.assert_clean()
    context.close()


def test_mic_is_hidden_where_the_browser_cannot_record(quiet_browser, shop_port, shop):
    """On plain http from a non-local host name there is no getUserMedia (secure contexts
    only): no button, and typed chat works as before."""
    context = quiet_browser.new_context(permissions=["microphone"])
    tab = Widget(context, f"http://{INSECURE_HOST}:{shop_port}").open()
    assert tab.page.evaluate("() => [isSecureContext, typeof navigator.mediaDevices]") \
        == [False, "undefined"]
    assert tab.page.locator(MIC).is_hidden()
    tab.send("hello")
    tab.wait_bots(1)
    tab.assert_clean()
    context.close()
