# nanhu: `make run` starts the bot locally, `make test` runs the whole suite.
VENV   := .venv
BIN    := $(VENV)/bin
# the first Python 3.11+ on PATH
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
            && { echo $$p; break; }; done)
export NANHU_CONFIG ?= nanhu.toml

.PHONY: run chat test check-python clean

check-python:
	@test -n "$(PYTHON)" || { echo "nanhu needs Python 3.11 or newer on PATH (python3.11, python3.12 ...)"; exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# installed again whenever pyproject.toml changes
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

nanhu.toml:
	cp config.example.toml nanhu.toml
	@echo "wrote nanhu.toml from config.example.toml (local development values)"

run: $(VENV)/.installed nanhu.toml
	$(BIN)/nanhu dev

chat: $(VENV)/.installed nanhu.toml
	$(BIN)/nanhu chat

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache
