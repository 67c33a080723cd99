# Fuzzing (tests/fuzz/README.md, docs/RELIABILITY.md).  `make fuzz` builds
# the libFuzzer targets with $(CLANG) into tests/fuzz/build, apart from the
# normal build (the library's and plugins' sources compiled again with
# -fsanitize=fuzzer,address,undefined), then runs each for FUZZ_SECONDS,
# one at a time.  FUZZ_TARGETS picks some of them.
CLANG = clang
FUZZ_SECONDS = 60
FUZZ_TARGETS = config set idx csv checkpoint
FUZZ_OUT = $(abs_top_builddir)/tests/fuzz/build

EXTRA_DIST += tests/fuzz/README.md tests/fuzz/build.sh tests/fuzz/run.sh \
	tests/fuzz/config.dict tests/fuzz/lsan.supp tests/fuzz/corpus docs/RELIABILITY.md

fuzz-build: config.h
	$(AM_V_at)CLANG='$(CLANG)' FUZZ_CFLAGS='$(LIBCONFIG_CFLAGS) $(ZLIB_CFLAGS)' \
	  FUZZ_LIBS='$(LIBCONFIG_LIBS) $(ZLIB_LIBS)' \
	  $(SHELL) $(srcdir)/tests/fuzz/build.sh '$(abs_top_srcdir)' '$(abs_top_builddir)' '$(FUZZ_OUT)'

fuzz: fuzz-build
	$(SHELL) $(srcdir)/tests/fuzz/run.sh '$(abs_top_srcdir)' '$(FUZZ_OUT)' $(FUZZ_SECONDS) \
	  $(FUZZ_TARGETS)

fuzz-clean:
	rm -rf '$(FUZZ_OUT)'

clean-local: fuzz-clean

.PHONY: fuzz fuzz-build fuzz-clean
