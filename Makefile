# The two commands of README.md. Both set up what they need first (deploy/bootstrap.sh).
SHELL := /bin/bash
BIN := .venv/bin

.PHONY: run test setup

setup:
	@deploy/bootstrap.sh

run: setup
	@$(BIN)/umpnet up

test: setup
	@deploy/bootstrap.sh --for-tests
	@$(BIN)/pytest

# The whole fault suite (docs/chaos.md): every scenario, SQLite and PostgreSQL.
# `make test` runs its bounded slice only (the broker outage there is a cut TCP
# proxy). `make chaos` also restarts the real RabbitMQ (stop_app/start_app):
# CHAOS_REAL_BROKER=0 make chaos on a broker that others are using.
.PHONY: chaos
chaos: setup
	@deploy/bootstrap.sh --for-tests
	@CHAOS_FULL=1 CHAOS_REAL_BROKER=$${CHAOS_REAL_BROKER:-1} $(BIN)/pytest -m chaos tests/chaos
