# Every target sets itself up: a venv, pinned dependencies, generated stubs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEPS   := $(VENV)/.deps-installed
PROTO  := protos/atomicrm/privacy/v1/privacy.proto
STUBS  := gen/atomicrm/privacy/v1/privacy_pb2.py
EDITABLE := $(VENV)/.editable-installed

.PHONY: run test lint proto clean setup

setup: $(EDITABLE)

$(DEPS): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

proto: $(STUBS)

$(STUBS): $(PROTO) $(DEPS)
	rm -rf gen
	mkdir -p gen
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grpc_tools.protoc -I protos \
		--python_out=gen --grpc_python_out=gen \
		--mypy_out=gen --mypy_grpc_out=gen $(PROTO)
	# Regular packages (not namespace ones) so setuptools and mypy find them.
	for d in gen/atomicrm gen/atomicrm/privacy gen/atomicrm/privacy/v1; do \
		touch $$d/__init__.py $$d/py.typed; done

$(EDITABLE): $(STUBS) pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

run: $(EDITABLE)
	$(BIN)/privacyctl serve

test: $(EDITABLE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(EDITABLE)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf gen $(VENV) .pytest_cache .mypy_cache .ruff_cache
