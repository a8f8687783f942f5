# nanhu: `make run` starts the bot locally, `make test` runs the whole suite.
VENV   := .venv
BIN    := $(VENV)/bin
# the first Python 3.11+ on PATH
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
            && { echo $$p; break; }; done)
export NANHU_CONFIG ?= nanhu.toml
# the Chinese font the identity card image is drawn with (var/ is not in git)
CARD_FONT := var/fonts/wqy-microhei.ttc

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

# Unpacked from Debian's fonts-wqy-microhei without installing it (no root needed). Without apt-get,
# or offline, this only says so: the bot then sends identity cards as text, and the rest works.
$(CARD_FONT):
	@mkdir -p $(@D)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 \
	   && (cd "$$tmp" && apt-get download -qq -o APT::Sandbox::User="$$(id -un)" fonts-wqy-microhei >/dev/null) \
	   && dpkg-deb -x "$$tmp"/fonts-wqy-microhei_*.deb "$$tmp/pkg" \
	   && cp "$$tmp/pkg/usr/share/fonts/truetype/wqy/wqy-microhei.ttc" "$@.part" && mv "$@.part" "$@"; then \
	  echo "fetched the identity card font: $@"; \
	else \
	  rm -f "$@.part"; \
	  echo "note: could not fetch $@ (needs apt-get and dpkg-deb, and 'apt-get update' done once);"; \
	  echo "      without a Chinese font, identity cards are sent as text. Any Chinese .ttc/.ttf in $(@D)/ will do."; \
	fi

run: $(VENV)/.installed nanhu.toml $(CARD_FONT)
	$(BIN)/nanhu dev

chat: $(VENV)/.installed nanhu.toml
	$(BIN)/nanhu chat

# two workers, a test file each at a time (conftest gives each its own Redis database and PostgreSQL database)
test: $(VENV)/.installed-dev $(CARD_FONT)
	$(BIN)/python -m pytest -n 2 --dist loadfile

clean:
	rm -rf $(VENV) var/*.db var/*.db-* var/*.db.writers var/*.db.kv var/*.db.kv-* var/*.db.*.kv var/*.db.*.kv-* .pytest_cache

# issue 9: the webhook under load against Flask, wechatpy and WeRoBot (about 3 minutes; loopback, port 8400).
# WeRoBot is for the bench only (bench/requirements.txt), never a runtime dependency.
# BENCH_ARGS passes options, e.g. `make bench BENCH_ARGS="--redis"` or `BENCH_ARGS="--soak 10"`.
.PHONY: bench
$(VENV)/.installed-bench: bench/requirements.txt | $(VENV)/.installed
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	@touch $@

bench: $(VENV)/.installed $(VENV)/.installed-bench
	$(BIN)/python bench/webhook_bench.py $(BENCH_ARGS)
