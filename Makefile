# cs231n-a2: `make run` (install, get CIFAR-10, run the work) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
TF_STAMP := $(VENV)/.tensorflow-stamp

.PHONY: install install-tensorflow data test run bench lint format clean release pdf-deps sandbox-deps

# (Re)install when requirements or build files change; the editable install also
# compiles the Cython extension.
$(STAMP): requirements.txt pyproject.toml setup.py $(wildcard cs231n/*.pyx)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-build-isolation --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# TensorFlow.ipynb's framework (about 1.3 GB); PyTorch.ipynb needs only `make install`.
$(TF_STAMP): requirements-tensorflow.txt $(STAMP)
	$(PY) -m pip install --quiet -r requirements-tensorflow.txt
	touch $(TF_STAMP)

install-tensorflow: $(TF_STAMP)

# Solution only (tools/release.py leaves this paragraph out of the starter): our run and our
# tests execute both framework notebooks, so here the install includes TensorFlow.
install: install-tensorflow

data: install
	$(PY) -m cs231n.datasets.fetch

# Two pytest workers (pytest-xdist); each test module runs whole on one worker, so that its
# shared fixtures are computed once. PYTEST_ARGS= runs the suite in one process. The 25
# slowest tests (a module's shared setup counts to its first test) are listed at the end.
PYTEST_ARGS ?= -n 2 --dist loadscope --durations=25
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The main job: the six notebooks in order (papermill), full mode; QUICK=1 for quick mode.
# Executed notebooks, HTML renders and summary.md / summary.json go to build/run/
# (build/run-quick/ in quick mode).
QUICK ?=
run: data
	$(PY) scripts/run_notebooks.py $(if $(filter 1 yes true,$(QUICK)),--quick)

bench: install
	$(PY) benchmarks/run_all.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf build *.egg-info cs231n/*.so cs231n/im2col_cython.c .pytest_cache

# The student starter kit, derived from this solution (tools/release.py); STARTER=DIR to choose
# where (an existing non-empty folder is replaced).
STARTER ?= build/starter
release:
	$(PYTHON) -m tools.release $(STARTER) --force

# The PDF engine of collectSubmission.sh: nbconvert and pypdf (pinned in requirements.txt) and
# headless Chromium from the system's packages (Debian/Ubuntu; needs root or sudo).
pdf-deps: install
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; }
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1

# The grader's sandbox (tools/grade/sandbox.py): bubblewrap from the system's packages
# (Debian/Ubuntu; needs root or sudo). Without it the grader falls back to weaker protections,
# and its report says which.
sandbox-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends bubblewrap; }
	@command -v bwrap >/dev/null 2>&1

# Gradescope's autograder: build/autograder.zip (setup.sh, run_autograder, the grader in
# tools/grade and our solution as its reference). Grade locally: $(PY) -m tools.grade SUBMISSION...
.PHONY: autograder
autograder: install
	$(PY) -m tools.grade.build_autograder --out build/autograder.zip
