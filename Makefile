# Quick start: `make run` (service on 127.0.0.1:8000, embedded SQLite + queue)
# and `make test`. Everything a fresh machine or CI needs is installed from here.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
# pytest processes (pytest-xdist): every test makes its own databases, ports and files.
TEST_PROCESSES ?= 2
# Browser tests drive Debian's chromium; Playwright must never fetch a browser of its own.
CHROMIUM ?= /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: run test worker bench browser deploy-tools deploy-check clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/amends serve --host $(HOST) --port $(PORT)

worker: $(VENV)/.installed
	$(VENV)/bin/amends worker

test: $(VENV)/.installed-test browser deploy-tools
	$(VENV)/bin/amends lint
	@# The classifier is trained (or its cache loaded) once here, not in each test process.
	$(PY) -c "from plugin.core.classify import base_model; base_model()"
	$(PY) -m pytest -q -n $(TEST_PROCESSES)

# Installs Debian's chromium where it is missing (apt-get; sudo -n only when not root).
# Never fails: if it cannot install, it says why, writes the reason to
# $(VENV)/.chromium-missing, and the browser tests skip with that reason.
browser: | $(PY)
	@rm -f $(VENV)/.chromium-missing; \
	if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	why=""; \
	if [ "$$(id -u)" = 0 ]; then as=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as="sudo -n"; \
	else why="not root and no password-less sudo to run apt-get install chromium"; fi; \
	if [ -z "$$why" ] && ! command -v apt-get >/dev/null 2>&1; then why="no apt-get (not a Debian-like system)"; fi; \
	if [ -z "$$why" ]; then \
	  echo "make browser: $(CHROMIUM) missing; installing Debian's chromium"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-cache show chromium >/dev/null 2>&1 || $$as apt-get update -qq || true; \
	  $$as apt-get install -y -qq chromium >/dev/null \
	    || { $$as apt-get update -qq && $$as apt-get install -y -qq chromium >/dev/null; } \
	    || why="apt-get install chromium failed"; \
	fi; \
	if [ -z "$$why" ] && [ ! -x "$(CHROMIUM)" ]; then why="chromium installed but $(CHROMIUM) is absent"; fi; \
	if [ -n "$$why" ]; then \
	  echo "make browser: cannot install chromium: $$why; browser tests will be skipped"; \
	  echo "$$why" > $(VENV)/.chromium-missing; \
	fi

# Checks deploy/ with the tools that will read it: systemd-analyze verify (the units), nginx -t
# (the site), caddy validate (the Caddyfile). See docs/deploy.md.
deploy-check: $(VENV)/.installed-test deploy-tools
	$(PY) -m pytest -q tests/test_deploy.py

# Installs Debian's nginx and caddy where missing, like `browser`: never fails; what it could
# not install is written to $(VENV)/.deploy-tools-missing and those checks skip with the reason.
# They are checkers here, not servers: the services the packages start are stopped and disabled.
deploy-tools: | $(PY)
	@rm -f $(VENV)/.deploy-tools-missing; \
	need=""; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need="$$need nginx"; \
	command -v caddy >/dev/null 2>&1 || need="$$need caddy"; \
	if [ -z "$$need" ]; then exit 0; fi; \
	why=""; \
	if [ "$$(id -u)" = 0 ]; then as=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as="sudo -n"; \
	else why="not root and no password-less sudo to run apt-get install$$need"; fi; \
	if [ -z "$$why" ] && ! command -v apt-get >/dev/null 2>&1; then why="no apt-get (not a Debian-like system)"; fi; \
	if [ -z "$$why" ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  for pkg in $$need; do \
	    apt-cache show $$pkg >/dev/null 2>&1 || $$as apt-get update -qq >/dev/null 2>&1 || true; \
	    if $$as apt-get install -y -qq $$pkg >/dev/null 2>&1; then \
	      $$as systemctl disable --now $$pkg >/dev/null 2>&1 || true; \
	    else why="$$why apt-get install $$pkg failed;"; fi; \
	  done; \
	fi; \
	if [ -n "$$why" ]; then \
	  echo "make deploy-tools: could not install$$need: $$why the deploy checks that need them will be skipped"; \
	  echo "$$why" > $(VENV)/.deploy-tools-missing; \
	fi

bench: $(VENV)/.installed-test
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) instance .pytest_cache
