# The two commands for a newcomer on a fresh Debian 12 machine:
#   make demo   install missing packages, build, run the demo
#   make test   install missing packages, build, run the whole test suite
# Both install missing Debian packages first (tools/install-deps: as root,
# or through sudo). The build itself is meson + ninja in $(BUILD).
#
# Variables: BUILD (build directory, default build), BUILDTYPE (meson
# buildtype for a new build directory, default release), JOBS (parallel
# jobs, default: all CPUs), MESON_OPTS (extra `meson setup` options).

BUILD      ?= build
BUILDTYPE  ?= release
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
MESON_OPTS ?=
DEMO_DIR    = $(BUILD)/demo
DEMO_MODEL  = $(DEMO_DIR)/smollm2-135m-shape-q8_0.gguf

.PHONY: all deps configure build test demo clean

all: build

deps:
	@tools/install-deps

# Configure once; later runs only rebuild what changed.
configure: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) --buildtype=$(BUILDTYPE) $(MESON_OPTS)

build: configure
	ninja -C $(BUILD) -j $(JOBS)

test: build
	meson test -C $(BUILD) --num-processes $(JOBS) --print-errorlogs

# Until the video pipeline lands: generate a random-weight model with the
# shape of SmolLM2-135M (SmolVLM2-256M's text model) and describe it.
demo: build
	@$(MAKE) --no-print-directory $(DEMO_MODEL)
	$(BUILD)/examples/videollm info $(DEMO_MODEL)

# Regenerated when the generator changes; written under a temporary name
# so an interrupted run never leaves a half-written model behind.
$(DEMO_MODEL): $(BUILD)/tests/videollm-gen-model
	@mkdir -p $(DEMO_DIR)
	$(BUILD)/tests/videollm-gen-model --preset smollm2-135m --type Q8_0 -o $@.tmp
	@mv $@.tmp $@

clean:
	rm -rf $(BUILD)
