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
