"""Process wiring: the Rasa server's entry point and what it installs
(:mod:`bot.runtime.rasa_server`), the endpoints file for ``make run`` and garbage-collector
tuning (the test and bench harness lives in ``testing/``)."""
