# Documentation installed to $(docdir).
dist_doc_DATA += README.md docs/ARCHITECTURE.md docs/CONFIG.md docs/PLUGINS.md
refdocdir = $(docdir)/reference
dist_refdoc_DATA = $(wildcard $(srcdir)/docs/reference/*.md)
