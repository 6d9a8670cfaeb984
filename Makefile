# gLM Explorer
#   make run    create .venv, install everything, start the app on the embedded genome
#               (localhost only; `make run HOST=0.0.0.0` serves a lab network)
#   make run-dev the same, reloading pages when a source file changes
#   make test   same setup, then lint (ruff check, ruff format --check) and the whole test suite (installs Debian's chromium and
#               chromium-driver for the browser test when run as root)
# The install step runs once, and again whenever pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Pinned: on machines with a local CPU wheel this takes it; an unpinned torch pulls a
# multi-GB CUDA build. For a GPU install see README.md.
TORCH_VERSION := 2.13.0
PORT ?= 8501
HOST ?= localhost

.PHONY: run run-dev test lint install browser-deps clean

# Server settings (upload limit, no file watcher, no tracebacks for users) are in
# .streamlit/config.toml.
run: $(STAMP)
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.address $(HOST)

run-dev: $(STAMP)
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.address $(HOST) \
	  --server.fileWatcherType auto --server.runOnSave true --client.showErrorDetails full

test: $(STAMP) browser-deps lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

install: $(STAMP)

$(STAMP): pyproject.toml | $(BIN)/pip
	$(BIN)/pip install torch==$(TORCH_VERSION)
	$(BIN)/pip install -e '.[test]'
	touch $@

# Debian's python3 needs python3-venv for `python3 -m venv`; install it when we can.
$(BIN)/pip:
	@test -n "$(PYTHON)" || { echo "Python 3.11 not found: sudo apt-get install python3 python3-venv"; exit 1; }
	@if ! $(PYTHON) -m venv $(VENV); then \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); \
	  else \
	    echo "Could not create $(VENV): install Debian's python3-venv (sudo apt-get install python3-venv)"; exit 1; \
	  fi; \
	fi

browser-deps:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's chromium and chromium-driver for the browser test"; \
	  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; } \
	    || echo "Could not install chromium; the browser test will be skipped"; \
	else \
	  echo "The browser test needs Debian's chromium and chromium-driver and is skipped without them:"; \
	  echo "  sudo apt-get install chromium chromium-driver"; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache
