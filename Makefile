# Thin wrappers: every task lives in noxfile.py. `make` only bootstraps nox and uv into .tools/.
TOOLS := .tools
NOX := $(TOOLS)/bin/nox
TENANT ?= small
FORMAT ?= table

.PHONY: demo test lint plan compile publish catalogue images lock clean help run import

help:
	@echo "make demo            run the local demo on the embedded defaults"
	@echo "make test            lint, then the whole test suite"
	@echo "make plan TENANT=x   offline infra plan of a tenant (FORMAT=json for JSON only)"
	@echo "make compile         compile every pipeline template to KFP v2 IR under build/"
	@echo "make catalogue       regenerate pipelines/catalogue.json from the template registry"
	@echo "make images [DRY_RUN=1] [PUSH=1]   build the platform images, tagged <release> and <release>-<git sha>"
	@echo "make publish [DRY_RUN=1]   publish every template version to the platform's KFP repository"
	@echo "make import DATA=files-or-folder WAREHOUSE=dir   Parquet/CSV files as warehouse tables"
	@echo "make run CONFIGS=dir WAREHOUSE=dir [TEMPLATE=quicktest] [OUT=out/run] [PARAMS="k=v ..."]   run a template"

$(NOX): requirements-tools.txt
	@# Bootstrap output goes to stderr: `make plan FORMAT=json` must print only JSON on stdout.
	@python=$$(PYTHON="$(PYTHON)" scripts/find-python.sh) && echo "bootstrapping $(TOOLS) with $$python" >&2 && "$$python" -m venv --clear $(TOOLS) >&2
	@$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt >&2
	@touch $(NOX)

demo: $(NOX)
	$(NOX) --non-interactive -s demo

test: $(NOX)
	$(NOX) --non-interactive -s lint tests

lint: $(NOX)
	$(NOX) --non-interactive -s lint

plan: $(NOX)
	@$(NOX) --non-interactive -s plan -- --tenant $(TENANT) --format $(FORMAT)

TEMPLATE ?= quicktest
OUT ?= out/run
run: $(NOX)
	$(NOX) --non-interactive -s pipelines -- run $(TEMPLATE) --configs $(CONFIGS) --warehouse $(WAREHOUSE) --out $(OUT) $(foreach p,$(PARAMS),--param $(p))

import: $(NOX)
	$(NOX) --non-interactive -s pipelines -- warehouse import $(DATA) --warehouse $(WAREHOUSE)

compile: $(NOX)
	$(NOX) --non-interactive -s compile

publish: $(NOX)
	$(NOX) --non-interactive -s publish -- $(if $(DRY_RUN),--dry-run,)

images: $(NOX)
	$(NOX) --non-interactive -s images -- $(if $(DRY_RUN),--dry-run,) $(if $(PUSH),--push,)

catalogue: $(NOX)
	$(NOX) --non-interactive -s catalogue

lock: $(NOX)
	$(NOX) --non-interactive -s lock

clean:
	rm -rf $(TOOLS) .nox build out
