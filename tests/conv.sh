#!/bin/sh
# Image models on the command line: a small convolutional network trains on
# idx images kept as (1, H, W) (flatten = false) with the same bits at 1 and
# 3 threads, and bad image models - a kernel larger than the padded input, a
# stride of 0, channels that do not match, a convolution or flatten on a
# vector - stop with exit status 2, FILE:LINE, the layer and both shapes,
# and write nothing.
set -u
. "$(dirname "$0")/shlib.sh"

write_idx_images

image_monitor="every = 1; detail_every = 1;"

image_model false 'type = "conv2d"; channels = 3; kernel = 3; padding = 1; activation = "relu";' \
    'type = "batchnorm";' 'type = "maxpool"; kernel = 2;' \
    'type = "conv2d"; channels = 4; kernel = 2; stride = 1;' 'type = "global_avgpool";' \
    'type = "dense"; units = 2;' >"$tmp/cnn.cfg"
check "a small CNN trains" 0 "$GS" run "$tmp/cnn.cfg" --quiet --out "$tmp/t1" --threads 1
check "again on 3 threads" 0 "$GS" run "$tmp/cnn.cfg" --quiet --out "$tmp/t3" --threads 3
same_files "1 and 3 threads" "$tmp/t1" "$tmp/t3" gradients.csv metrics.csv
expect_text "the conv layers are monitored" t1/gradients.csv "0,weight"
expect_text "the second conv layer is monitored" t1/gradients.csv "3,weight"
expect_text "conv weights have histograms" t1/histograms.csv ",0,weight,"
# a relu conv layer has activation statistics and a dead fraction, as a dense layer
if awk -F, '$2 == 0 && $3 == "conv2d" && $5 != "nan" && $7 != "nan" { ok = 1 } END { exit !ok }' \
    "$tmp/t1/layers.csv"; then
    ok
else
    bad "no activation statistics for the conv layer in layers.csv"
fi

image_model false 'type = "conv2d"; channels = 3; kernel = 3;' \
    'type = "conv2d"; channels = 2; kernel = 5;' >"$tmp/big.cfg"
check "kernel larger than the input" 2 "$GS" run "$tmp/big.cfg" --quiet --out "$tmp/big"
expect_text "kernel larger: FILE:LINE" err "big.cfg:7"
expect_text "kernel larger: layer and shapes" err \
    "conv2d: kernel 5x5 is larger than the input an image (C, H, W) = (3, 4, 4) padded to 4x4"
not_written "kernel larger writes nothing" "$tmp/big"

image_model false 'type = "maxpool"; kernel = 3; padding = 2;' >"$tmp/pool.cfg"
check "pool padding" 2 "$GS" run "$tmp/pool.cfg" --quiet --out "$tmp/pool"
expect_text "pool padding: FILE:LINE and layer" err "pool.cfg:6"
expect_text "pool padding: message" err "maxpool: padding 2 is more than half the kernel 3"
not_written "pool padding writes nothing" "$tmp/pool"

image_model false 'type = "conv2d"; channels = 3; kernel = 3; stride = 0;' >"$tmp/stride.cfg"
check "stride 0" 2 "$GS" run "$tmp/stride.cfg" --quiet --out "$tmp/stride"
expect_text "stride 0: FILE:LINE" err "stride.cfg:6"
expect_text "stride 0: names stride" err "stride"
not_written "stride 0 writes nothing" "$tmp/stride"

image_model false 'type = "conv2d"; channels = 3; kernel = 3; in_channels = 3;' >"$tmp/chan.cfg"
check "channels that do not match" 2 "$GS" run "$tmp/chan.cfg" --quiet --out "$tmp/chan"
expect_text "channels: FILE:LINE" err "chan.cfg:6"
expect_text "channels: both shapes" err \
    "conv2d: in_channels = 3, but the input an image (C, H, W) = (1, 6, 6) has 1 channel"
not_written "channels writes nothing" "$tmp/chan"

image_model true 'type = "conv2d"; channels = 3; kernel = 3;' >"$tmp/vec.cfg"
check "conv on a vector" 2 "$GS" run "$tmp/vec.cfg" --quiet --out "$tmp/vec"
expect_text "conv on a vector: FILE:LINE" err "vec.cfg:6"
expect_text "conv on a vector: shapes" err \
    "conv2d: needs an image input (C, H, W); got a vector (C) = (36)"
not_written "conv on a vector writes nothing" "$tmp/vec"

image_model true 'type = "flatten";' >"$tmp/flat.cfg"
check "flatten on a vector" 2 "$GS" validate "$tmp/flat.cfg"
expect_text "flatten on a vector: FILE:LINE and shapes" err "flat.cfg:6"
expect_text "flatten on a vector: message" err "got a vector (C) = (36)"

echo "conv.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
