# Documentation installed to $(docdir).
dist_doc_DATA += README.md docs/ARCHITECTURE.md docs/CONFIG.md docs/PLUGINS.md docs/REPORT.md \
	docs/CLUSTERS.md docs/PERFORMANCE.md docs/FORMAT.md
refdocdir = $(docdir)/reference
dist_refdoc_DATA = docs/reference/activations.md docs/reference/initializers.md \
	docs/reference/optimizers.md docs/reference/losses.md docs/reference/schedules.md \
	docs/reference/datasets.md docs/reference/blocks.md docs/reference/convolution.md
