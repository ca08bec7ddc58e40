"""Process wiring for ``make run``: the endpoints file and garbage-collector tuning (the
test and bench harness lives in ``testing/``)."""
