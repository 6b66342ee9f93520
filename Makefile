# advexplore — the two quickstart commands are `make run` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
EXTRAS  ?= dev
HEADLESS ?=
JOBS    ?= 2

.PHONY: install lab run test bench teach clean

install:
	@bash scripts/install.sh $(EXTRAS)

# JupyterLab refuses to start as root without --allow-root (containers, lab machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

## make lab: JupyterLab on notebooks/
lab: install
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG)

## make run: the main job. Opens JupyterLab; with HEADLESS=1 executes every CPU notebook
## (notebooks/*.ipynb, small defaults) with papermill into runs/<timestamp>/ and prints a summary.
run: install
ifeq ($(HEADLESS),)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG)
else
	$(PY) -m advexplore.app.run_notebooks --out runs
endif

## make test: the whole suite (maths, notebooks headless, browser tests), 2 workers.
## One BLAS/OpenMP thread per worker (and per notebook kernel): with 2 workers on 2 cores,
## more threads only oversubscribe the machine (small matrices ran ~20x slower).
test: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=$${MKL_NUM_THREADS:-1} \
	$(PY) -m pytest -n $(JOBS) --durations=15

## make bench: the benchmark scripts (ratios measured side by side, no assertions)
bench: install
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## make teach [NB=01]: the notebooks as Voilà apps (code hidden, sliders live)
teach: install
	$(VENV)/bin/advexplore teach $(NB)

clean:
	rm -rf runs .pytest_cache
