"""Process wiring for ``make run`` and the end-to-end tests: ports, endpoints, secrets."""
