# make run   set up, then execute the notebook series in order (quick mode: NASEDU_QUICK=1 make run)
# make lab   set up, then open JupyterLab on notebooks/
# make test  set up, then run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup data run lab test clean

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
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist || echo "note: could not install dataset-fashion-mnist"; \
	fi

run: setup
	$(BIN)/python scripts/run_notebooks.py notebooks

lab: setup
	$(BIN)/jupyter lab notebooks

test: setup
	NASEDU_QUICK=1 $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
