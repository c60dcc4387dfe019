# The lab's commands. The two that matter: `make reproduce` and `make test`.
PY      := .venv/bin/python
MODE    ?= quick
NB      ?=

.PHONY: help setup reproduce reference export test test-fast lab notebook slides bench doctor down reap clean

help:
	@echo "make reproduce          set up, run every notebook ($(MODE) mode; results in data/results/, ignored by git), then make export"
	@echo "make export             the static site in build/site/ (solutions folded) and build/site-student/ (none), from data/reference/ (no server)"
	@echo "make reference [NB=02]  record the reference run (full mode) into data/reference/ and the README ledger"
	@echo "make test               set up, run the whole test suite (real servers, notebooks: 11 to 12 min here, with the machine's speed)"
	@echo "make test-fast          every test without servers, notebooks or a browser (under a minute)"
	@echo "make lab                JupyterLab with the 'Python (scalelab)' kernel, from the project root (idle kernels stop after an hour)"
	@echo "make notebook NB=01 [MODE=quick|full|reference]   run one notebook and export it"
	@echo "make slides NB=01       export one notebook as reveal.js slides"
	@echo "make bench              start-up, seed and capacity benchmarks"
	@echo "make doctor             which servers were found, versions, where from"

setup:
	@bash scripts/setup.sh

reproduce: setup
	$(PY) -m scalelab reproduce --mode $(MODE)
	$(MAKE) --no-print-directory export

export: setup
	@bash scripts/setup-site-assets.sh
	@bash scripts/setup-browser.sh
	$(PY) -m scalelab export

reference: setup
	$(PY) -m scalelab reference $(NB)
	$(PY) -m scalelab ledger --write-readme

test: setup
	@bash scripts/setup-browser.sh
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -q -m "not servers and not notebooks and not browser"

lab: setup
	$(PY) -m scalelab lab

notebook: setup
	@test -n "$(NB)" || { echo "usage: make notebook NB=01 [MODE=quick|full]"; exit 2; }
	$(PY) -m scalelab notebook $(NB) --mode $(MODE)

slides: setup
	@test -n "$(NB)" || { echo "usage: make slides NB=01 [MODE=quick|full]"; exit 2; }
	$(PY) -m scalelab notebook $(NB) --mode $(MODE) --slides

bench: setup
	$(PY) scripts/bench.py

doctor: setup
	$(PY) -m scalelab doctor

down:
	$(PY) -m scalelab down

reap:
	$(PY) -m scalelab reap

clean:
	rm -rf build
