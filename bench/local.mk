# Benchmarks (docs/PERFORMANCE.md): shipped, not run by make check but for
# tests/bench.sh, which runs run.sh and sweep.sh on their shortest runs
# (that they work, not how fast).
# bench/products, the dense layer's three matrix products alone, is built
# from the kernel sources (it sets the thread count, which the library
# does not export): by make check, so that it keeps compiling, or alone
# with make bench/products.
EXTRA_DIST += bench/run.sh bench/scaling.sh bench/monitor_cost.sh bench/common.sh \
	bench/sweep.sh bench/torch_peer.py bench/peak_sgemm.py \
	bench/deep-narrow.cfg bench/mnist-mlp.cfg bench/wide.cfg bench/resmlp.cfg \
	bench/resnet20.cfg bench/plain20.cfg bench/densenet40.cfg \
	bench/rnn-adding.cfg bench/lstm-adding.cfg bench/gru-rows.cfg

check_PROGRAMS += bench/products
bench_products_SOURCES = bench/products.c core/kernels/gemm.c core/kernels/gemm_avx2.c \
	core/kernels/gemm_avx512.c core/kernels/kernels.c \
	core/kernels/affinity.c core/base/util.c
bench_products_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core
bench_products_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS)
bench_products_LDADD = -lm

# bench/rnn_step, one recurrent layer's forward and backward alone, through
# the test API (run with GRADSCOPE_PLUGIN_PATH set, as the tests are).
check_PROGRAMS += bench/rnn_step
bench_rnn_step_SOURCES = bench/rnn_step.c
bench_rnn_step_LDADD = core/libgradscope.la -lm

TESTS += tests/bench.sh
EXTRA_DIST += tests/bench.sh
