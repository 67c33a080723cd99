#!/bin/sh
# The resnet block on idx images from the command line: a small ResNet
# (projection and option A shortcuts, a bottleneck) trains with the same
# bits at 1 and 3 threads and records each block's shortcut and branch
# norms in paths.csv; bad blocks - option A dropping channels, a stride or
# a bottleneck on a vector - stop with exit status 2, FILE:LINE, the layer
# and both shapes, and write nothing.
set -u
. "$(dirname "$0")/shlib.sh"

write_idx_images


image_model false 'type = "conv2d"; channels = 4; kernel = 3; padding = 1; bias = false;' \
    'type = "resnet"; units = 8; stride = 2; form = "post"; norm = "batchnorm";' \
    'type = "resnet"; units = 12; shortcut = "pad"; norm = "batchnorm";' \
    'type = "resnet"; branch = "bottleneck"; norm = "batchnorm";' \
    'type = "global_avgpool";' 'type = "dense"; units = 2;' >"$tmp/net.cfg"
check "a small ResNet trains" 0 "$GS" run "$tmp/net.cfg" --quiet --out "$tmp/t1" --threads 1
check "again on 3 threads" 0 "$GS" run "$tmp/net.cfg" --quiet --out "$tmp/t3" --threads 3
same_files "1 and 3 threads" "$tmp/t1" "$tmp/t3" gradients.csv metrics.csv paths.csv
expect_text "blocks record the shortcut" t1/paths.csv "shortcut_grad_norm"
expect_text "blocks record the branch" t1/paths.csv "residual_grad_norm"
expect_text "convolutions inside a block are monitored" t1/gradients.csv "conv1.weight"
expect_text "the projection is monitored" t1/gradients.csv "projection.weight"

image_model false 'type = "conv2d"; channels = 4; kernel = 3;' \
    'type = "resnet"; units = 2; shortcut = "pad";' >"$tmp/pad.cfg"
check "option A dropping channels" 2 "$GS" run "$tmp/pad.cfg" --quiet --out "$tmp/pad"
expect_text "pad: FILE:LINE" err "pad.cfg:7"
expect_text "pad: both shapes" err "resnet: shortcut = \"pad\" cannot drop channels: the input \
an image (C, H, W) = (4, 4, 4) has more than the output an image (C, H, W) = (2, 4, 4)"
not_written "pad writes nothing" "$tmp/pad"

image_model true 'type = "resnet"; stride = 2;' >"$tmp/vec.cfg"
check "stride on a vector" 2 "$GS" run "$tmp/vec.cfg" --quiet --out "$tmp/vec"
expect_text "stride on a vector: FILE:LINE" err "vec.cfg:6"
expect_text "stride on a vector: shape" err \
    "resnet: stride needs an image input (C, H, W); got a vector (C) = (36)"
not_written "stride on a vector writes nothing" "$tmp/vec"

image_model false 'type = "resnet"; units = 6; branch = "bottleneck";' >"$tmp/bn.cfg"
check "bottleneck of 6 channels" 2 "$GS" validate "$tmp/bn.cfg"
expect_text "bottleneck: FILE:LINE" err "bn.cfg:6"
expect_text "bottleneck: message" err "needs units divisible by 4 (expansion 4); got 6"

echo "resnet_conv.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
