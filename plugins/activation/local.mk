# Activation plugins (issue 3): one component per module; act_silu also
# registers "swish".  activation.h is their SDK helper header.

# Without -fno-trapping-math GCC keeps a select whose arms do arithmetic as a
# branch (the arithmetic might trap), which stops the element loops from
# vectorizing; nothing here enables floating-point traps.
ACTIVATION_CFLAGS = $(PLUGIN_CFLAGS) -fno-trapping-math

plugin_LTLIBRARIES += plugins/activation/act_relu.la
plugins_activation_act_relu_la_SOURCES = plugins/activation/act_relu.c
plugins_activation_act_relu_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_relu_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_relu_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/activation/act_leaky_relu.la
plugins_activation_act_leaky_relu_la_SOURCES = plugins/activation/act_leaky_relu.c
plugins_activation_act_leaky_relu_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_leaky_relu_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_leaky_relu_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/activation/act_prelu.la
plugins_activation_act_prelu_la_SOURCES = plugins/activation/act_prelu.c
plugins_activation_act_prelu_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_prelu_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_prelu_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/activation/act_elu.la
plugins_activation_act_elu_la_SOURCES = plugins/activation/act_elu.c
plugins_activation_act_elu_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_elu_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_elu_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/activation/act_selu.la
plugins_activation_act_selu_la_SOURCES = plugins/activation/act_selu.c
plugins_activation_act_selu_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_selu_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_selu_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/activation/act_gelu.la
plugins_activation_act_gelu_la_SOURCES = plugins/activation/act_gelu.c
plugins_activation_act_gelu_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_gelu_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_gelu_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/activation/act_silu.la
plugins_activation_act_silu_la_SOURCES = plugins/activation/act_silu.c
plugins_activation_act_silu_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_silu_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_silu_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/activation/act_softsign.la
plugins_activation_act_softsign_la_SOURCES = plugins/activation/act_softsign.c
plugins_activation_act_softsign_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_softsign_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_softsign_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/activation/act_softplus.la
plugins_activation_act_softplus_la_SOURCES = plugins/activation/act_softplus.c
plugins_activation_act_softplus_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_softplus_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_softplus_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/activation/act_sigmoid.la
plugins_activation_act_sigmoid_la_SOURCES = plugins/activation/act_sigmoid.c
plugins_activation_act_sigmoid_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_sigmoid_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_sigmoid_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/activation/act_tanh.la
plugins_activation_act_tanh_la_SOURCES = plugins/activation/act_tanh.c
plugins_activation_act_tanh_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_tanh_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_tanh_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/activation/act_identity.la
plugins_activation_act_identity_la_SOURCES = plugins/activation/act_identity.c
plugins_activation_act_identity_la_CFLAGS = $(ACTIVATION_CFLAGS)
plugins_activation_act_identity_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_activation_act_identity_la_LIBADD = -lm
