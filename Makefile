# The two commands a new machine needs: `make run` and `make test`.
SHELL := /bin/bash
STRATUS_CONFIG ?= /etc/stratus/stratus.conf
STRATUS := .venv/bin/stratus --config-file $(STRATUS_CONFIG)
PYTEST_ARGS ?=
# The default images (the guest VM and busybox) are built here, then registered by bootstrap.
IMAGES ?= build/images
MANIFESTS := $(IMAGES)/guest/stratus-guest.json $(IMAGES)/busybox/busybox.json

.PHONY: install run stop status test lint bench

install:
	@tools/install.sh

run:
	@tools/install.sh --link
	@tools/ensure-config.sh $(STRATUS_CONFIG)
	@tools/start-daemons.sh
	@tools/build-guest-image.sh $(IMAGES)/guest
	@tools/build-container-image.sh $(IMAGES)/busybox
	@$(STRATUS) bootstrap $(foreach m,$(MANIFESTS),--image-manifest $(m))
	@$(STRATUS) up --detach
	@$(STRATUS) status

stop:
	@$(STRATUS) down

status:
	@$(STRATUS) status

lint: install
	.venv/bin/ruff check stratus tests benchmarks
	.venv/bin/ruff format --check stratus tests benchmarks

test: install lint
	@tools/start-daemons.sh
	.venv/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done
