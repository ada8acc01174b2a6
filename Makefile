# tilerun — build, run and test on Debian 12 (GDAL 3.6.2).
#   make run    install what is missing, build, process the bundled fixture
#   make test   fmt + clippy + the whole test suite (what CI runs)
#   make bench  generate the 8192² inputs and compare with gdal_calc.py / gdaldem / rio-mucho
#   make fuzz   bounded fuzzing of the expression and config parsers

SHELL := /bin/bash
CARGO ?= cargo
# libssl-dev: TLS to the queue database (openssl-sys links the system's).
APT_PACKAGES := libgdal-dev gdal-bin python3-gdal pkgconf libssl-dev
BENCH_PACKAGES := hyperfine time python3-venv
# The queue and S3 tests start a throwaway PostgreSQL cluster and a local
# S3 server (moto, from PyPI, in its own venv so the system Python stays
# untouched; no stdin needed, works as root).
# openssl: the TLS test makes its CA and server certificate with the CLI.
TEST_PACKAGES := postgresql python3-venv openssl
MOTO := moto[server]==5.2.5
MOTO_VENV := .venv/moto
# The codec-bound section's peer (bench/rio_mucho_ndvi.py). rasterio's wheel
# bundles its own GDAL (3.10.3 in 1.4.4), so the versions are pinned.
BENCH_PIP := rasterio==1.4.4 rio-mucho==1.0.0
BENCH_VENV := bench/.venv
OUT ?= out

.PHONY: deps test-deps bench-deps build run test lint fixtures bench fuzz clean

# Install only what is missing, so a warm box does not touch apt at all.
deps:
	@$(MAKE) --no-print-directory apt-missing PKGS="$(APT_PACKAGES)"

test-deps: deps
	@$(MAKE) --no-print-directory apt-missing PKGS="$(TEST_PACKAGES)"
	@[ -x $(MOTO_VENV)/bin/moto_server ] || { \
	  /usr/bin/python3 -m venv $(MOTO_VENV) && \
	  $(MOTO_VENV)/bin/pip install -q --disable-pip-version-check '$(MOTO)' < /dev/null; }

.PHONY: apt-missing
apt-missing:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

bench-deps: deps
	@command -v hyperfine >/dev/null && [ -x /usr/bin/time ] && \
	  dpkg-query -W -f='$${Status}' python3-venv 2>/dev/null | grep -q "ok installed" || { \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(BENCH_PACKAGES); }
	@[ -x $(BENCH_VENV)/bin/python ] && $(BENCH_VENV)/bin/python -c 'import rasterio, riomucho' 2>/dev/null || { \
	  /usr/bin/python3 -m venv $(BENCH_VENV) && $(BENCH_VENV)/bin/pip install -q $(BENCH_PIP); }

build: deps
	$(CARGO) build --release --locked

run: build
	@mkdir -p $(OUT)
	./target/release/tilerun fixtures/scene_small.tif --config config.toml --recipe ndvi -o $(OUT)/scene_small_ndvi.tif --overwrite --json
	./target/release/tilerun fixtures/dem_small.tif --config config.toml --recipe hillshade -o $(OUT)/dem_small_hillshade.tif --overwrite --json
	@echo "outputs in $(OUT)/"; ls -l $(OUT)

lint: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

test: lint test-deps
	TILERUN_MOTO_SERVER=$(CURDIR)/$(MOTO_VENV)/bin/moto_server $(CARGO) test --locked

# Regenerate the small committed fixtures (deterministic).
fixtures: deps
	/usr/bin/python3 fixtures/gen.py

bench: bench-deps build
	/usr/bin/python3 bench/gen_inputs.py bench/data
	bench/run.sh

# cargo-fuzz (libFuzzer) needs nightly; both are installed if missing. The
# targets are safe Rust, so no sanitizer (-s none), but debug assertions on
# (-a) so an integer overflow is a finding. FUZZ_SECS per target.
FUZZ_SECS ?= 60
fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && $(CARGO) +nightly fuzz run -a -s none expr -- \
	  -max_total_time=$(FUZZ_SECS) -dict=dict/expr.dict -max_len=512
	cd fuzz && $(CARGO) +nightly fuzz run -a -s none config -- \
	  -max_total_time=$(FUZZ_SECS) -dict=dict/config.dict -max_len=1024

clean:
	$(CARGO) clean
	rm -rf $(OUT)
