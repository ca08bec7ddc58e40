"""The test and bench harness, shared by ``tests/`` and ``bench/`` (not part of the library):

- :mod:`testing.stack`: a real Rasa server and action server on free ports;
- :mod:`testing.sio_client`: a widget tab speaking the socket.io protocol;
- :mod:`testing.fake_telegram` and :mod:`testing.telegram_updates`: a fake Telegram Bot
  API and the updates Telegram posts to a webhook;
- :mod:`testing.twilio_caller`: a simulated Twilio Media Streams caller.
"""
