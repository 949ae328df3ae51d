# Every target sets itself up: a venv, pinned dependencies, generated stubs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEPS   := $(VENV)/.deps-installed
PROTO  := protos/atomicrm/privacy/v1/privacy.proto
STUBS  := gen/atomicrm/privacy/v1/privacy_pb2.py
EDITABLE := $(VENV)/.editable-installed

.PHONY: run test test-unit lint proto clean setup check-alerts promtool chromium bench bench-quick

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

test: $(EDITABLE) check-alerts chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The fast tier alone: tests/unit, no database, no server.
test-unit: $(EDITABLE)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

# Alert rules, checked and unit-tested with the real Prometheus toolchain.
check-alerts: promtool
	promtool check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && promtool test rules alerts_test.yml

# promtool comes from Debian's prometheus package; installed here when we can.
promtool:
	@command -v promtool >/dev/null 2>&1 && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "promtool not found: installing Debian's prometheus package"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
		|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; \
	fi; \
	command -v promtool >/dev/null 2>&1 || { \
		echo "promtool is missing and could not be installed: install Debian's" \
		     "'prometheus' package (apt-get install prometheus) or put promtool on PATH" >&2; \
		exit 1; }

# A real headless browser renders an export's index.html in the tests
# (tests/e2e/test_export_page.py); Debian's chromium, installed here when we can.
chromium:
	@command -v chromium >/dev/null 2>&1 && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "chromium not found: installing Debian's chromium package"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null \
		|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; \
	fi; \
	command -v chromium >/dev/null 2>&1 || { \
		echo "chromium is missing and could not be installed: install Debian's" \
		     "'chromium' package (apt-get install chromium) or put chromium on PATH" >&2; \
		exit 1; }

lint: $(EDITABLE)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Benchmarks: the service beside raw SQL on the same data (docs/performance.md).
bench: $(EDITABLE)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: $(EDITABLE)
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

clean:
	rm -rf gen $(VENV) .pytest_cache .mypy_cache .ruff_cache
