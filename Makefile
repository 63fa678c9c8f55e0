# make run   set up, then execute the notebook series into build/ and render build/html/index.html
#            (quick mode: NASEDU_QUICK=1 make run); the committed notebooks are left alone
# make lab   set up, then open JupyterLab on notebooks/
# make test  set up (with the browser the widget test drives), then run the whole test suite
# make wheel build/dist/nasedu-*.whl: the package with the notebooks and every trained artefact inside
# make slides  set up, then a reveal.js deck of each executed notebook in build/slides/ (runs the series first
#              when build/notebooks/ holds none; reveal.js comes from the npm registry, pinned below)
# make student  the student edition (build/student/) and the teacher key with its nbgrader course (build/teacher/)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# sudo only when not root and sudo exists (containers often have neither need nor sudo)
SUDO := $(shell [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null && echo sudo)
# JupyterLab refuses to run as root (containers, Docker) unless told that it is meant
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: setup data browser run lab test wheel student slides clean

setup: $(VENV)/.installed data

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# Fashion-MNIST from Debian's package when apt is available (skipped quietly elsewhere:
# nasedu then falls back to torchvision's download or scikit-learn's digits).
data:
	@if [ -d /usr/share/datasets/fashion-mnist ]; then :; \
	elif command -v apt-get >/dev/null; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist >/dev/null \
	    || echo "note: could not install dataset-fashion-mnist"; \
	fi

# Debian's Chromium for the browser test (Playwright drives it; nothing is downloaded).
browser:
	@if command -v chromium >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null \
	    || echo "note: could not install chromium; the browser test will skip (and fail under CI)"; \
	fi

run: setup
	$(BIN)/python scripts/run_notebooks.py

lab: setup
	$(BIN)/jupyter lab $(ALLOW_ROOT) notebooks

wheel: setup
	$(BIN)/pip wheel --no-deps --no-build-isolation -q -w build/dist .
	@ls -l build/dist/nasedu-*.whl

student: $(VENV)/.installed
	$(BIN)/python scripts/make_editions.py

test: setup browser
	NASEDU_QUICK=1 $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache build

# reveal.js for the offline slide decks, from the npm registry (Debian's npm when npm is missing)
REVEAL_JS := build/reveal/node_modules/reveal.js/dist/reveal.js

$(REVEAL_JS):
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq npm >/dev/null; }
	npm install --silent --no-save --no-audit --no-fund --prefix build/reveal reveal.js@5.2.1

slides: setup $(REVEAL_JS)
	$(BIN)/python scripts/make_slides.py
