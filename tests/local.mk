# Test programs (Check).  Each area owns a fragment.
AM_TESTS_ENVIRONMENT = \
	GRADSCOPE_PLUGIN_PATH='$(BUILD_PLUGIN_PATH)'; export GRADSCOPE_PLUGIN_PATH; \
	GRADSCOPE_NO_INSTALLED_PLUGINS=1; export GRADSCOPE_NO_INSTALLED_PLUGINS; \
	GRADSCOPE_TEST_SRCDIR='$(abs_top_srcdir)'; export GRADSCOPE_TEST_SRCDIR; \
	GRADSCOPE_TEST_BUILDDIR='$(abs_top_builddir)'; export GRADSCOPE_TEST_BUILDDIR; \
	CK_DEFAULT_TIMEOUT=600; export CK_DEFAULT_TIMEOUT; \
	OMP_NUM_THREADS=2; export OMP_NUM_THREADS;

include $(srcdir)/tests/catalogue.mk
include $(srcdir)/tests/optim.mk
include $(srcdir)/tests/data.mk
