# Touchline: `make run` starts the assistant, `make test` runs the whole test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
export HOST ?= 127.0.0.1
export RASA_PORT ?= 5005
export ACTION_PORT ?= 5055
export API_PORT ?= 8000
export CORS_ORIGINS ?= http://localhost:$(API_PORT) http://127.0.0.1:$(API_PORT)
# Rasa's usage telemetry stays off unless you set RASA_TELEMETRY_ENABLED=true (README,
# "Personal data"); the Procfile says the same for `honcho start` on its own.
export RASA_TELEMETRY_ENABLED ?= false

.PHONY: run run-cluster test test-fast venv db model features browser speech nginx lint bench clean

$(VENV)/.installed: requirements.lock scripts/make_venv.sh
	bash scripts/make_venv.sh $(VENV)
	touch $@

venv: $(VENV)/.installed

db: venv
	$(PY) -m bot.store.schema

# The spaCy entity patterns come from data files only (data/entities, exported from the shop
# database when the catalogue changes, and data/nlu): training never opens a database.
# `rasa train` compares the fingerprint of data, domain, config and those patterns with the
# newest model in models/ and restores unchanged components from its cache.
ENTITY_FILES := $(addprefix data/entities/,brands.txt categories.txt colours.txt kickers.txt)

$(ENTITY_FILES) &: data/catalogue/products.json data/nlu/lookups.yml | features
	$(PY) -m bot.nlu.vocabulary

model: features $(ENTITY_FILES)
	$(PY) -m bot.nlu.spacy_build
	$(VENV)/bin/rasa train --fixed-model-name touchline --out models

# The kick model trains once (well under a minute on 2 cores; serving never trains and the
# action server answers kick questions with an apology until a model exists); the search
# index syncs with the catalogue (only new or changed products are embedded).
features: db
	$(PY) -m bot.kicks.train --if-missing
	$(PY) -m bot.search.cli sync

# Two Rasa server processes (Sanic workers) by default: see README, "Scaling".
run: export SANIC_WORKERS ?= 2
run: model
	bash scripts/install_speech.sh || echo "voice: espeak-ng fallback unavailable; Piper is used"
	bash scripts/secrets.sh
	$(PY) -m bot.runtime.endpoints var/endpoints.yml
	@echo ""
	@echo "Touchline is starting:"
	@echo "  chat (REST):  POST http://$(HOST):$(RASA_PORT)/webhooks/rest/webhook  {\"sender\": \"alice\", \"message\": \"hi\"}"
	@echo "  Rasa HTTP API http://$(HOST):$(RASA_PORT)  (token: RASA_AUTH_TOKEN in var/secrets.env)"
	@echo "  action server http://$(HOST):$(ACTION_PORT)/webhook"
	@echo "  Touchline API http://$(HOST):$(API_PORT)/docs  (agents: TOUCHLINE_AGENT_TOKEN in var/secrets.env)"
	@echo "  agent inbox   http://$(HOST):$(API_PORT)/agent  (python -m bot.support.agents create-agent)"
	@echo ""
	$(VENV)/bin/honcho start -f Procfile -e var/secrets.env

# The production profile on one machine (README, "Deployment (production profile)"):
# CLUSTER_RASA_SERVERS Rasa servers and CLUSTER_ACTION_SERVERS action servers behind nginx
# on CLUSTER_PORT, the event consumer, the API and the retention job, over the PostgreSQL
# (with pgvector), Redis and RabbitMQ that DATABASE_URL, REDIS_URL and RABBITMQ_URL name.
CLUSTER_RASA_SERVERS ?= 3
CLUSTER_ACTION_SERVERS ?= 2
CLUSTER_PORT ?= 8080
run-cluster: export TOUCHLINE_RASA_PUBLIC_URL ?= http://$(HOST):$(CLUSTER_PORT)
run-cluster: export CORS_ORIGINS += http://localhost:$(CLUSTER_PORT) http://127.0.0.1:$(CLUSTER_PORT)
run-cluster: model nginx
	bash scripts/secrets.sh
	$(PY) -m bot.runtime.cluster var/cluster --rasa-servers $(CLUSTER_RASA_SERVERS) \
		--action-servers $(CLUSTER_ACTION_SERVERS) --port $(CLUSTER_PORT)
	@echo ""
	@echo "Touchline cluster: widget and webhooks on http://$(HOST):$(CLUSTER_PORT) (nginx),"
	@echo "  Touchline API http://$(HOST):$(API_PORT)/docs; processes: var/cluster/Procfile"
	@echo ""
	$(VENV)/bin/honcho start -f var/cluster/Procfile -d . -e var/secrets.env

browser:
	bash scripts/install_browser.sh

# nginx for make run-cluster and the cluster tests (Debian's package, run unprivileged).
nginx:
	bash scripts/install_nginx.sh

# espeak-ng: the voice channel's fallback synthesiser (Piper, the default, is in the venv).
speech:
	bash scripts/install_speech.sh

# Two pytest workers (pytest-xdist), a test file at a time each: much of the suite waits on
# servers, browsers and calls streamed in real time, so two processes on 2 cores finish
# sooner than one (README, "Tests").  `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 2

test: venv browser speech nginx
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The tests that need no servers, PostgreSQL or browser and train no Rasa model (markers
# `slow` and `servers`, see pyproject.toml and tests/conftest.py).
test-fast: venv speech
	$(PY) -m pytest -q -m "not slow and not servers"

# ruff on everything; mypy on the packages listed in pyproject.toml ([tool.mypy] files).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: venv
	$(PY) -m bench.turn_latency

clean:
	rm -rf models var .pytest_cache
