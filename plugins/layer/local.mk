# Architecture blocks (kind "layer").
plugin_LTLIBRARIES += plugins/layer/layer_dense.la
plugins_layer_layer_dense_la_SOURCES = plugins/layer/layer_dense.c
plugins_layer_layer_dense_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_layer_layer_dense_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugin_LTLIBRARIES += plugins/layer/layer_resnet.la
plugins_layer_layer_resnet_la_SOURCES = plugins/layer/layer_resnet.c plugins/layer/layer_util.h
plugins_layer_layer_resnet_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_layer_layer_resnet_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_layer_layer_resnet_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/layer/layer_densenet.la
plugins_layer_layer_densenet_la_SOURCES = plugins/layer/layer_densenet.c plugins/layer/layer_util.h
plugins_layer_layer_densenet_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_layer_layer_densenet_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_layer_layer_densenet_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/layer/layer_transition.la
plugins_layer_layer_transition_la_SOURCES = plugins/layer/layer_transition.c plugins/layer/layer_util.h
plugins_layer_layer_transition_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_layer_layer_transition_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_layer_layer_transition_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/layer/layer_batchnorm.la
plugins_layer_layer_batchnorm_la_SOURCES = plugins/layer/layer_batchnorm.c plugins/layer/layer_util.h
plugins_layer_layer_batchnorm_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_layer_layer_batchnorm_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_layer_layer_batchnorm_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/layer/layer_layernorm.la
plugins_layer_layer_layernorm_la_SOURCES = plugins/layer/layer_layernorm.c plugins/layer/layer_util.h
plugins_layer_layer_layernorm_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_layer_layer_layernorm_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_layer_layer_layernorm_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/layer/layer_dropout.la
plugins_layer_layer_dropout_la_SOURCES = plugins/layer/layer_dropout.c plugins/layer/layer_util.h
plugins_layer_layer_dropout_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_layer_layer_dropout_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_layer_layer_dropout_la_LIBADD = -lm
