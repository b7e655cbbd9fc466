# Thin wrapper around meson. Every target first installs missing Debian packages (tools/scripts/install-deps.sh).
BUILD ?= build
EMBEDDED_BUILD ?= build-embedded
JOBS ?= $(shell nproc)
export PATH := /usr/local/cuda/bin:$(PATH)

.PHONY: all deps build test test-embedded bench demo check-long clean gpu-bundle

all: build

deps:
	@bash tools/scripts/install-deps.sh

# Configure once; meson reconfigures by itself when meson.build files change.
$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=release

$(EMBEDDED_BUILD)/build.ninja:
	meson setup $(EMBEDDED_BUILD) --buildtype=release -Donednn=disabled -Dcuda=disabled

build: deps
	@$(MAKE) --no-print-directory $(BUILD)/build.ninja
	@bash tools/scripts/cuda-stale.sh $(BUILD)
	ninja -C $(BUILD) -j $(JOBS)

test: build
	@bash tools/scripts/run-tests.sh $(BUILD)

# The embedded configuration: neither oneDNN nor CUDA, everything on the reference backend.
test-embedded: deps
	@$(MAKE) --no-print-directory $(EMBEDDED_BUILD)/build.ninja
	ninja -C $(EMBEDDED_BUILD) -j $(JOBS)
	@bash tools/scripts/run-tests.sh $(EMBEDDED_BUILD)

bench: build
	@bash bench/run.sh $(BUILD)

# The main job on demo data: synthetic dataset, DivE (K = 4) vs the single-vector baseline, recall tables.
demo: build
	@bash tools/scripts/demo.sh $(BUILD)

check-long: test test-embedded

# The CUDA build for a GPU machine (tests, benchmarks, CLI + their non-CUDA libraries) in gpu-bundle/;
# run it there with `bash tools/scripts/gpu-check.sh` from the repository root.
gpu-bundle: deps
	@bash tools/scripts/gpu-bundle.sh gpu-bundle build-gpu

clean:
	rm -rf $(BUILD) $(EMBEDDED_BUILD) build-gpu gpu-bundle
