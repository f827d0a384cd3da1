# Rayfish top-level entry points. Meson + Ninja do the building; this file only
# names the jobs. `make demo` and `make test` install their own dependencies.
BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
REL_BUILD  ?= build-release
FUZZ_SECONDS ?= 10
FUZZ_LONG_SECONDS ?= 1800
SAN := -Db_sanitize=address,undefined -Db_lundef=false

.PHONY: all deps build release unit fuzz fuzz-long lab test demo bench clean man deb

all: build

deps:
	bash scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(SAN)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(REL_BUILD)/build.ninja:
	meson setup $(REL_BUILD) --buildtype=release

release: deps $(REL_BUILD)/build.ninja
	ninja -C $(REL_BUILD)

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true $(SAN) -Dc_args=-fsanitize=fuzzer-no-link

unit: build
	bash scripts/test.sh unit $(BUILD)

fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	bash scripts/test.sh fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Every target for FUZZ_LONG_SECONDS (30 min each by default), growing the
# seed corpora in tests/fuzz/corpus with what raised coverage.
fuzz-long: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	bash scripts/test.sh fuzz-long $(FUZZ_BUILD) $(FUZZ_LONG_SECONDS)

lab: build
	bash scripts/test.sh lab $(BUILD)

# The whole suite: unit tests, a short fuzz run of every network-facing
# parser, and every lab scenario; prints one "N passed, N failed" line.
test: build deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	bash scripts/test.sh all $(BUILD) $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The Debian package (debian/), built from the files git tracks in a copy
# under $(DEB_BUILD), checked by lintian.
DEB_BUILD ?= build-deb
deb: deps
	rm -rf $(DEB_BUILD) && mkdir -p $(DEB_BUILD)/src
	git ls-files -z | xargs -0 cp --parents -t $(DEB_BUILD)/src
	cd $(DEB_BUILD)/src && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b
	lintian --fail-on error,warning --suppress-tags-from-file debian/lintian-suppressed $(DEB_BUILD)/rayfish_*.deb

# The manual page, its COMMANDS section made from the command table.
man: build
	$(BUILD)/ray __man docs/ray.1.in > docs/ray.1

demo: build
	bash tests/lab/demo.sh $(BUILD)

bench: release
	ninja -C $(REL_BUILD) src/dataplane/firewall_micro
	./$(REL_BUILD)/src/dataplane/firewall_micro
	ninja -C $(REL_BUILD) src/dataplane/offload_micro
	./$(REL_BUILD)/src/dataplane/offload_micro
	bash bench/throughput $(REL_BUILD)
	bash bench/paths $(REL_BUILD)
	bash bench/peers $(REL_BUILD)
	bash bench/scale $(REL_BUILD)
	bash bench/files $(REL_BUILD)

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(REL_BUILD)
