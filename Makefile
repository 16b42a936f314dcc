# The two commands for a newcomer on a fresh Debian 12 machine:
#   make demo   install missing packages, build, run the demo
#   make test   install missing packages, build, run the whole test suite
# Both install missing Debian packages first (tools/install-deps: as root,
# or through sudo). The build itself is meson + ninja in $(BUILD).
#
# Variables: BUILD (build directory, default build), BUILDTYPE (meson
# buildtype for a new build directory, default release), JOBS (parallel
# jobs, default: all CPUs), MESON_OPTS (extra `meson setup` options).
#
# AArch64 (Linux, glibc) from this x86-64 Debian 12 machine:
#   make cross-arm64       cross packages (tools/install-deps --arm64), build in $(ARM64_BUILD)
#   make test-arm64        that build's test suite under qemu-aarch64, one test at a
#                          time; QEMU_CPU=max (default) or cortex-a53 picks the CPU

BUILD      ?= build
BUILDTYPE  ?= release
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
MESON_OPTS ?=
ARM64_BUILD ?= build-arm64
QEMU_CPU    ?= max

.PHONY: all deps configure build test demo clean cross-arm64 test-arm64

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

# The main job on built-in data: ask a question about the bundled clip
# (tests/data/media/test-3.mp4, 10 s) with the bundled demo model pair —
# a tiny SmolVLM2-shaped text model + vision projector with RANDOM
# weights (tests/data/tiny-smolvlm2), so the answer is meaningless text;
# the point is the pipeline and its statistics. Real models: README.
DEMO_TEXT   = tests/data/tiny-smolvlm2/models/tiny-smolvlm2-main-text-Q8_0.gguf
DEMO_MMPROJ = tests/data/tiny-smolvlm2/models/tiny-smolvlm2-main-mmproj-F32.gguf
DEMO_CLIP   = tests/data/media/test-3.mp4
demo: build
	@echo "demo: random-weight model (output is not meaningful) on $(DEMO_CLIP)"
	$(BUILD)/examples/videollm ask -m $(DEMO_TEXT) --mmproj $(DEMO_MMPROJ) --video $(DEMO_CLIP) \
		-p "What happens in this video?" -n 32 --stats

cross-arm64:
	@tools/install-deps --arm64
	@test -f $(ARM64_BUILD)/build.ninja || meson setup $(ARM64_BUILD) --cross-file tools/cross/aarch64-linux-gnu.ini \
		--buildtype=$(BUILDTYPE) $(MESON_OPTS)
	ninja -C $(ARM64_BUILD) -j $(JOBS)

# Emulation is slow: one test at a time, the suite's timeouts stretched.
test-arm64: cross-arm64
	QEMU_CPU=$(QEMU_CPU) meson test -C $(ARM64_BUILD) --num-processes 1 --timeout-multiplier 10 --print-errorlogs

clean:
	rm -rf $(BUILD)
