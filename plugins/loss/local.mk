# Loss plugins (issue 3), torch.nn semantics; docs/reference/losses.md.

plugin_LTLIBRARIES += plugins/loss/loss_softmax_cross_entropy.la
plugins_loss_loss_softmax_cross_entropy_la_SOURCES = plugins/loss/loss_softmax_cross_entropy.c
plugins_loss_loss_softmax_cross_entropy_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_loss_loss_softmax_cross_entropy_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_loss_loss_softmax_cross_entropy_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/loss/loss_mse.la
plugins_loss_loss_mse_la_SOURCES = plugins/loss/loss_mse.c
plugins_loss_loss_mse_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_loss_loss_mse_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_loss_loss_mse_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/loss/loss_bce_with_logits.la
plugins_loss_loss_bce_with_logits_la_SOURCES = plugins/loss/loss_bce_with_logits.c
plugins_loss_loss_bce_with_logits_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_loss_loss_bce_with_logits_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_loss_loss_bce_with_logits_la_LIBADD = -lm
