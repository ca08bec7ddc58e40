"""The test and bench harness, shared by ``tests/`` and ``bench/`` (not part of the library):

- :mod:`testing.stack`: a real Rasa server and action server on free ports;
- :mod:`testing.twilio_caller`: a simulated Twilio Media Streams caller.
"""
