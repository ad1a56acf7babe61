# Two commands set up a fresh machine: `make book` builds the website, `make test` runs the
# tests. Each creates the virtual environment in .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The venv's bin goes first on PATH: nbgrader runs `alembic` and notebooks start kernels from it.
# One BLAS/OpenMP thread: on 2 cores, more threads made small fits up to 25x slower.
RUN := PATH="$(CURDIR)/$(BIN):$$PATH" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
PORT ?= 8000
# rfc3987-syntax comes with jupyter-events (jsonschema's "format-nongpl" extra) and builds a
# grammar when jsonschema is imported: 1.5 s of CPU in every process that loads nbformat or
# Jupyter Book (a book build, each grading worker, each course command). It serves only
# jsonschema's optional check of the "iri" string format, which no schema here uses.
DROP_SLOW_EXTRAS := $(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax

.PHONY: book pdf test serve bench clean

$(BIN)/.installed-book: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(DROP_SLOW_EXTRAS)
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed-book
	$(BIN)/python -m pip install --quiet -e ".[test,scale]"
	$(DROP_SLOW_EXTRAS)
	touch $@

# --all rebuilds every page, so warnings from pages an earlier build read are not hidden;
# executed notebooks still come from the jupyter-cache in _build.
book: $(BIN)/.installed-book
	$(RUN) $(BIN)/jupyter-book build . -W -n --keep-going --all
	$(MAKE) --no-print-directory pdf
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

# The whole book as one PDF, printed by Debian's Chromium (apt-get install chromium) from the
# single-page build; it is published beside the website as _build/html/mlcycle-book.pdf.
pdf: $(BIN)/.installed-book
	$(RUN) $(BIN)/jupyter-book build . --builder singlehtml -W -n --keep-going
	$(RUN) $(BIN)/python -m mlcycle_ref.pdf _build/singlehtml/index.html _build/html/mlcycle-book.pdf

# One test process per core (pytest-xdist), each taking whole files, so that a file's shared
# set-up (a graded class, a built site) runs once; the book is built once, under a lock.
test: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(RUN) $(BIN)/python -m pytest -n auto --dist loadfile

serve: book
	@echo "Serving the book on http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

bench: $(BIN)/.installed-test
	$(RUN) sh -c 'for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python "$$script" || exit 1; done'

clean:
	rm -rf _build .pytest_cache .ruff_cache
