# The experiments that reproduce the literature (docs/EXPERIMENTS.md), their
# figures, and `make check-experiments`, which reruns them and checks that
# every claimed result still holds (a few minutes; not part of `make check`).
configs_experimentsdir = $(pkgdatadir)/configs/experiments
dist_configs_experiments_DATA = \
	configs/experiments/glorot-bengio.cfg configs/experiments/he2015.cfg \
	configs/experiments/criticality.cfg configs/experiments/depth.cfg \
	configs/experiments/optimizers.cfg configs/experiments/exploding.cfg \
	configs/experiments/dead-units.cfg configs/experiments/batchnorm.cfg \
	configs/experiments/fashion-deep.cfg \
	configs/experiments/resnet-conv.cfg configs/experiments/densenet-conv.cfg \
	configs/experiments/rnn-adding.cfg configs/experiments/rnn-spectral.cfg \
	configs/experiments/irnn.cfg

dist_doc_DATA += docs/EXPERIMENTS.md
experimentfiguresdir = $(docdir)/figures
dist_experimentfigures_DATA = \
	docs/figures/glorot-bengio-signal.svg docs/figures/glorot-bengio-activations.svg \
	docs/figures/he2015-training.svg docs/figures/he2015-signal.svg \
	docs/figures/criticality-signal.svg docs/figures/depth-gradflow.svg \
	docs/figures/optimizers-training.svg docs/figures/exploding-training.svg \
	docs/figures/dead-units-activations.svg docs/figures/batchnorm-gradflow.svg \
	docs/figures/fashion-deep-gradflow.svg \
	docs/figures/resnet-conv-training.svg docs/figures/resnet-conv-gradflow.svg \
	docs/figures/densenet-conv-gradflow.svg

EXTRA_DIST += scripts/check-experiments

# CHECK_EXPERIMENTS_FLAGS: e.g. "--keep DIR", "--figures DIR", experiment names.
# The build tree's plugins only, as in `make check`, not also the installed
# ones that `make install` leaves.
check-experiments: all
	GRADSCOPE='$(abs_top_builddir)/core/gradscope' \
	GRADSCOPE_CONFIGS='$(abs_top_srcdir)/configs' \
	GRADSCOPE_PLUGIN_PATH='$(BUILD_PLUGIN_PATH)' GRADSCOPE_NO_INSTALLED_PLUGINS=1 \
	$(SHELL) '$(srcdir)/scripts/check-experiments' $(CHECK_EXPERIMENTS_FLAGS)
.PHONY: check-experiments
