# The two commands of the README. Everything else is `koppel --help`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-long validate clean mutation mutation-smoke

# A virtual environment with Koppel and its test tools, rebuilt when pyproject.toml changes.
$(BIN)/koppel: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/koppel
	$(BIN)/koppel validate
	$(BIN)/koppel demo

test: $(BIN)/koppel
	$(BIN)/pytest -q

# The same tests with the long fault, outage, bounce and crash cases at full scale (tests/scale.py):
# 50 fault examples per plugin, 15 s outages, a minute of bouncing, 50 000 records killed at random.
test-long: $(BIN)/koppel
	KOPPEL_TEST_SCALE=full $(BIN)/pytest -q

validate: $(BIN)/koppel
	$(BIN)/koppel validate

# The mutation run (mutation/README.md): every module of mutation/modules.toml, score per module.
# MODULES="redact lane" runs just those groups.
mutation: $(BIN)/koppel
	$(BIN)/python mutation/run.py $(MODULES)

# A handful of mutants of one small module, under a minute: keeps the configuration from rotting (CI).
mutation-smoke: $(BIN)/koppel
	$(BIN)/python mutation/run.py --smoke

clean:
	rm -rf $(VENV) var build *.egg-info
