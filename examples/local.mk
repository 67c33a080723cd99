# The example plugins, installed beside the documentation ($(docdir)/examples/plugins)
# so that a plugin author without the source tree has them; tests/sdk.sh builds them
# against a staged install.
nobase_dist_doc_DATA = examples/plugins/README.md examples/plugins/experiment.cfg \
	examples/plugins/pswish/pswish.c examples/plugins/pswish/Makefile \
	examples/plugins/highway/highway.c examples/plugins/highway/Makefile \
	examples/plugins/rezero/rezero.c examples/plugins/rezero/Makefile
