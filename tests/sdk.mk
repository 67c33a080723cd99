# The installed SDK (tests/sdk.sh): a staged install under `make check`, the
# real one under `make installcheck` (which distcheck runs).
TESTS += tests/sdk.sh
EXTRA_DIST += tests/sdk.sh

# What tests/sdk.sh needs to know about this build, as shell assignments.
sdk-vars:
	@echo "prefix='$(prefix)'"; echo "bindir='$(bindir)'"; echo "libdir='$(libdir)'"; \
	echo "includedir='$(includedir)'"; echo "plugindir='$(plugindir)'"; \
	echo "pkgconfigdir='$(pkgconfigdir)'"; echo "mandir='$(mandir)'"; \
	echo "docdir='$(docdir)'"; echo "CC='$(CC)'"; echo "PKG_CONFIG='$(PKG_CONFIG)'"

installcheck-local:
	GS_SDK_INSTALLED=1 GS_SDK_DESTDIR='$(DESTDIR)' \
	GRADSCOPE_TEST_BUILDDIR='$(abs_top_builddir)' GRADSCOPE_TEST_SRCDIR='$(abs_top_srcdir)' \
	$(SHELL) $(srcdir)/tests/sdk.sh

.PHONY: sdk-vars
