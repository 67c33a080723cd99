# Architecture blocks (kind "layer").
plugin_LTLIBRARIES += plugins/layer/layer_dense.la
plugins_layer_layer_dense_la_SOURCES = plugins/layer/layer_dense.c
plugins_layer_layer_dense_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_layer_layer_dense_la_LDFLAGS = $(PLUGIN_LDFLAGS)
