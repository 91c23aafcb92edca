# practiceprotect.m365 — the two commands a new user needs are `make demo` and `make test`.
# Both install what they need first (a .venv from pinned requirements) and work on a fresh clone.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
BUILD := $(CURDIR)/.build
COLLECTIONS := $(BUILD)/collections
COLL_LINK := $(COLLECTIONS)/ansible_collections/practiceprotect/m365
SANITY_ROOT := $(BUILD)/sanity/ansible_collections/practiceprotect/m365
# The full default ansible-test sanity set (pylint included); `make sanity SANITY_ARGS="--test pylint"` runs one test.
SANITY_ARGS ?=
STATE := $(BUILD)/sandbox

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo test lint sanity sanity-all sanity-core docs docs-lint unit integration bench-smoke bench molecule secret-scan awx-check sandbox changelog clean

setup: $(VENV)/.installed $(COLL_LINK)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# The collection must sit under ansible_collections/<namespace>/<name> for Ansible to load it.
$(COLL_LINK):
	mkdir -p $(dir $(COLL_LINK))
	ln -sfn ../../../.. $(COLL_LINK)

# Every process make test starts inherits PPM365_TEST_RUN, an id of this run; its last step fails when any of them
# is still running (tests/tools/processes.py), since a test that leaves a process behind may still be writing.
test: export PPM365_TEST_RUN := $(shell $(PYTHON) -c 'import uuid; print(uuid.uuid4().hex)')
test: setup lint sanity docs-lint unit integration bench-smoke molecule secret-scan awx-check
	$(BIN)/python -m tests.tools.processes --leftovers
	@echo "make test: all checks passed"

lint: setup
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production

# ansible-test needs a real ansible_collections/<ns>/<name> tree: test a copy of the tracked files. ansible-test
# installs each test's pinned requirements (pylint, pycodestyle, ...) into virtual environments of its own under
# ~/.ansible/test/venv, bootstrapping pip in them with tests/tools/get_pip_offline.py (its own bootstrap script comes
# from outside the package registries). Accepted findings are listed, each with its reason, in
# tests/sanity/ignore-<core>.txt.
define sanity_run
	rm -rf $(BUILD)/sanity && mkdir -p $(SANITY_ROOT)
	git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} $(SANITY_ROOT)/
	pip_cache=$(HOME)/.ansible/test/cache/get_pip_$$($(1)/python -c "import types; \
		from ansible_test._internal.python_requirements import get_venv_packages as g; \
		print(g(types.SimpleNamespace(version='3.11'))['pip'].replace('.', '_'))").py && \
	mkdir -p $(HOME)/.ansible/test/cache && { [ -f $$pip_cache ] || cp tests/tools/get_pip_offline.py $$pip_cache; } && \
	cd $(SANITY_ROOT) && git init -q . && git add -A && $(1)/ansible-test sanity --local --python 3.11 $(SANITY_ARGS)
endef

sanity: setup
	$(call sanity_run,$(BIN))

# Sanity on every supported ansible-core (not part of make test): one virtual environment per core under
# .build/sanity-venvs, each holding only that ansible-core (ansible-test comes with it).
SANITY_CORES := 2.17.14 2.18.19 2.19.14
SANITY_VENVS := $(BUILD)/sanity-venvs

sanity-all: setup
	@for core in $(SANITY_CORES); do \
		venv=$(SANITY_VENVS)/$${core%.*}; \
		[ "$$($$venv/bin/python -c 'import ansible; print(ansible.__version__)' 2>/dev/null)" = "$$core" ] || { \
			rm -rf $$venv && $(BIN)/python -m venv $$venv && $$venv/bin/python -m pip install --quiet ansible-core==$$core; \
		} || exit 1; \
	done
	@failed=""; for core in $(SANITY_CORES); do \
		echo "=== ansible-test sanity on ansible-core $$core"; \
		$(MAKE) --no-print-directory sanity-core SANITY_BIN=$(SANITY_VENVS)/$${core%.*}/bin || failed="$$failed $$core"; \
	done; \
	if [ -n "$$failed" ]; then echo "sanity failed on ansible-core$$failed"; exit 1; fi; echo "sanity passed on $(SANITY_CORES)"

sanity-core:
	$(call sanity_run,$(SANITY_BIN))

unit: setup
	$(BIN)/python -m pytest -q tests/unit

# Each run keeps its -vvv output (tests/output/integration) and, per worker, what its sandbox issued or received
# (tests/output/secrets/gw*.jsonl) and its request log (tests/output/requests/gw*.jsonl) for the secret scan; an
# older run's files go first (molecule's are molecule-*.jsonl and stay).
integration: setup
	rm -rf tests/output/integration tests/output/reliability
	rm -f tests/output/secrets/gw*.jsonl tests/output/secrets/master.jsonl tests/output/requests/gw*.jsonl tests/output/requests/master.jsonl
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests/integration

# The bulk benchmark (tests/bench, S1 to S5). bench-smoke: 50 people, no timing targets; fails only on failed hosts,
# people missing or created twice, a re-run that writes, or a crash. bench: 1,000 people against the targets and the
# hand-written uri baseline, written to docs/performance.md (long: not part of make test). The baseline runs on the
# first 100 joiners and is compared per person: on all 1,000 it alone would take most of an hour.
bench-smoke: setup
	$(BIN)/python -m tests.bench --smoke

bench: setup
	$(BIN)/python -m tests.bench --people 1000 --baseline-people 100 --out docs/performance.md

# Each role's scenario (converge, idempotence, verify against a sandbox its prepare starts), all at once: each
# keeps its full output in tests/output/molecule/<role>.log (read by the secret scan), shown here once it is done.
# The target fails if any scenario did.
MOLECULE_ROLES := $(patsubst roles/%/molecule/default/molecule.yml,%,$(wildcard roles/*/molecule/default/molecule.yml))
MOLECULE_OUT := $(CURDIR)/tests/output/molecule

molecule: setup
	@rm -rf $(MOLECULE_OUT) && mkdir -p $(MOLECULE_OUT); \
	rm -f tests/output/secrets/molecule-*.jsonl tests/output/requests/molecule-*.jsonl; \
	for role in $(MOLECULE_ROLES); do \
		echo "molecule test: $$role (log: tests/output/molecule/$$role.log)"; \
		( cd roles/$$role && NO_COLOR=1 ANSIBLE_NOCOLOR=1 $(BIN)/molecule test > $(MOLECULE_OUT)/$$role.log 2>&1; \
		  echo $$? > $(MOLECULE_OUT)/$$role.rc ) & \
	done; \
	wait; failed=""; \
	for role in $(MOLECULE_ROLES); do \
		echo "=== molecule test: $$role"; cat $(MOLECULE_OUT)/$$role.log; \
		[ "$$(cat $(MOLECULE_OUT)/$$role.rc)" = 0 ] || failed="$$failed $$role"; \
		rm -f $(MOLECULE_OUT)/$$role.rc; \
	done; \
	if [ -n "$$failed" ]; then echo "molecule failed for:$$failed (logs in tests/output/molecule)"; exit 1; fi

# No client secret, certificate key or password any sandbox of the integration tests or molecule scenarios issued
# or received may appear in their kept output or the sandboxes' request logs (tests/tools/secret_scan.py; figures in
# tests/output/reliability/secrets.json). Run after integration and molecule: it fails when there is nothing to scan.
secret-scan: setup
	$(BIN)/python -m tests.tools.secret_scan

# The AWX execution environment (docs/awx/execution-environment.yml): build the collection tarball it installs,
# then write its build context with `ansible-builder create` (offline; building the image itself needs podman or
# docker and is not part of make test).
AWX_CONTEXT := $(BUILD)/awx-context
AWX_TARBALL := practiceprotect-m365-$(shell sed -n 's/^version: *//p' galaxy.yml).tar.gz

awx-check: setup
	rm -rf $(BUILD)/awx $(AWX_CONTEXT)
	$(BIN)/ansible-galaxy collection build --force --output-path $(BUILD)/awx
	for f in meta/execution-environment.yml requirements.txt bindep.txt; do \
		tar -tzf $(BUILD)/awx/$(AWX_TARBALL) | grep -qx "$$f" || { echo "$$f is missing from $(AWX_TARBALL)"; exit 1; }; \
	done
	$(BIN)/ansible-builder create -f docs/awx/execution-environment.yml --context $(AWX_CONTEXT) --output-filename Containerfile
	grep -q "ansible-galaxy collection install" $(AWX_CONTEXT)/Containerfile
	test -s $(AWX_CONTEXT)/_build/collections/$(AWX_TARBALL) || \
		{ echo "docs/awx/execution-environment.yml does not install $(AWX_TARBALL) (version in galaxy.yml changed?)"; exit 1; }
	@echo "awx-check: build context in $(AWX_CONTEXT)"

# The docs tools live in a virtual environment of their own (requirements-docs.txt): antsibull-docs needs Sphinx, whose
# docutils is older than the one the test tools use.
DOCS_VENV := $(BUILD)/docs-venv
DOCS_SRC := $(BUILD)/docs-src
DOCS_ENV := PATH=$(DOCS_VENV)/bin:$$PATH

$(DOCS_VENV)/.installed: requirements-docs.txt
	rm -rf $(DOCS_VENV)
	$(BIN)/python -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet -r requirements-docs.txt
	touch $@

# The modules', filters' and roles' documentation as antsibull-docs (and so the Ansible docsite) reads it.
docs-lint: setup $(DOCS_VENV)/.installed
	$(DOCS_ENV) antsibull-docs lint-collection-docs --plugin-docs $(COLL_LINK)

# The docs site, as collections publish theirs: antsibull-docs renders the modules, filters and roles, Sphinx (with
# MyST for the Markdown guides, tests/tools/docs_site.py) builds the HTML into .build/docs. Any warning fails it.
docs: setup $(DOCS_VENV)/.installed
	rm -rf $(BUILD)/docs $(DOCS_SRC) && mkdir -p $(DOCS_SRC) && chmod 700 $(DOCS_SRC)
	$(DOCS_ENV) antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --dest-dir $(DOCS_SRC) \
		--index-rst-source docs/docsite/index.rst --project practiceprotect.m365 \
		--copyright "practiceprotect.m365 contributors" --title practiceprotect.m365 practiceprotect.m365
	mkdir -p $(DOCS_SRC)/rst/collection && chmod 700 $(DOCS_SRC)/rst/collection
	$(DOCS_ENV) antsibull-docs collection --use-current --squash-hierarchy --fail-on-error \
		--dest-dir $(DOCS_SRC)/rst/collection practiceprotect.m365
	$(BIN)/python -m tests.tools.docs_site $(DOCS_SRC)
	$(DOCS_ENV) sphinx-build -q -W --keep-going -b html -c $(DOCS_SRC) $(DOCS_SRC)/rst $(BUILD)/docs
	@echo "docs: $(BUILD)/docs/index.html"

# A sandbox in the foreground, for rehearsing playbooks: `make sandbox`, then in another shell
# `set -a; . .build/sandbox/sandbox.env; set +a` and run ansible-playbook as usual.
sandbox: setup
	$(BIN)/python -m tests.sandbox serve --state-dir $(STATE) --port 0

demo: setup
	$(BIN)/python -m tests.demo

changelog: setup
	$(BIN)/antsibull-changelog lint

clean:
	rm -rf $(BUILD) tests/output
