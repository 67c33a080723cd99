#!/usr/bin/env python3
"""Reference values for tests/test_densenet_conv.c: the `densenet` block and
the `transition` layer on images against a PyTorch model written as
torchvision's DenseNet (_DenseLayer, _DenseBlock, _Transition), with batch
norm in training mode.

Writes tests/fixtures/densenet_reference.txt in the format of
tests/reference/conv_reference.py ("case NAME TYPE", "params ...",
"shape N C H W", "NAME COUNT v..." lines, "end").  Parameter tensors carry
gradscope's names inside the block ("l2.norm.weight", "conv.weight"); the
gradients are "grad_" + that name, and the batch norms' running statistics
after the step are "NAME.running_mean" / "NAME.running_var".  Inputs,
parameters and dy are float32 numbers held in float64; PyTorch computes in
float64, so the references are the exact answers for those inputs.

Run once, from the source tree, and commit the output:

    python3 tests/reference/densenet_reference.py > tests/fixtures/densenet_reference.txt
"""
import sys

import torch
import torch.nn as nn


def f32(t):
    """Rounded to float32, held in float64."""
    return t.float().double()


def emit(out, name, t):
    vals = t.detach().reshape(-1).tolist()
    out.write("%s %d %s\n" % (name, len(vals), " ".join(repr(float(v)) for v in vals)))


def randn(*shape, scale=1.0, shift=0.0):
    return f32(torch.randn(*shape, dtype=torch.float64) * scale + shift)


def conv(cin, cout, k):
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)


class DenseLayer(nn.Module):
    """norm -> relu [-> conv1x1 to b -> norm -> relu] -> conv3x3 to k; without
    norms the same with the norms left out."""

    def __init__(self, cin, k, b, norm):
        super().__init__()
        self.named = []  # (gradscope name, module) of every stage with parameters
        stages = []
        if norm:
            stages.append(("norm", nn.BatchNorm2d(cin)))
        stages.append(("act", nn.ReLU()))
        if b:
            stages.append(("bottleneck", conv(cin, b, 1)))
            if norm:
                stages.append(("norm2", nn.BatchNorm2d(b)))
            stages.append(("act2", nn.ReLU()))
        stages.append(("conv", conv(b or cin, k, 3)))
        self.stages = nn.ModuleList(m for _, m in stages)
        self.names = [n for n, _ in stages]

    def forward(self, x):
        for m in self.stages:
            x = m(x)
        return x


class DenseBlock(nn.Module):
    def __init__(self, c, layers, k, b, norm):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(c + i * k, k, b, norm) for i in range(layers))

    def forward(self, x):
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, 1)))
        return torch.cat(feats, 1)

    def named_stages(self):
        for i, layer in enumerate(self.layers):
            for n, m in zip(layer.names, layer.stages):
                yield "l%d.%s" % (i + 1, n), m


class Transition(nn.Module):
    def __init__(self, c, theta, pool):
        super().__init__()
        self.norm = nn.BatchNorm2d(c)
        self.conv = conv(c, int(theta * c + 1e-9), 1)
        self.pool = nn.AvgPool2d(pool) if pool else nn.Identity()

    def forward(self, x):
        return self.pool(self.conv(torch.relu(self.norm(x))))

    def named_stages(self):
        yield "norm", self.norm
        yield "conv", self.conv


def randomize(model):
    """Off PyTorch's init (so that a scale error shows) and off gamma = 1."""
    with torch.no_grad():
        for _, m in model.named_stages():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(f32(torch.randn(m.weight.shape, dtype=torch.float64) * 0.5))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(f32(1.0 + 0.3 * torch.randn(m.weight.shape, dtype=torch.float64)))
                m.bias.copy_(f32(0.3 * torch.randn(m.bias.shape, dtype=torch.float64)))
    return model


# name, type, params, model, input
def cases():
    bn = 'norm = "batchnorm";'
    yield ("dense_L2_k3", "densenet", "layers = 2; growth = 3; " + bn,
           DenseBlock(4, 2, 3, 0, True), randn(2, 4, 5, 5))
    yield ("dense_L3_k3_bottleneck12", "densenet",
           "layers = 3; growth = 3; bottleneck = 12; " + bn,
           DenseBlock(3, 3, 3, 12, True), randn(2, 3, 4, 4, scale=2.0, shift=0.5))
    yield ("dense_L2_k3_bottleneck6_nonorm", "densenet", "layers = 2; growth = 3; bottleneck = 6;",
           DenseBlock(2, 2, 3, 6, False), randn(2, 2, 5, 5))
    yield ("dense_L3_k3_6x6", "densenet", "layers = 3; growth = 3; " + bn,
           DenseBlock(6, 3, 3, 0, True), randn(2, 6, 6, 6))
    yield ("transition_theta05", "transition", "compression = 0.5; " + bn,
           Transition(6, 0.5, 2), randn(2, 6, 6, 6, scale=1.5, shift=-0.3))
    yield ("transition_theta05_odd", "transition", "compression = 0.5; " + bn,
           Transition(5, 0.5, 2), randn(2, 5, 5, 5))
    yield ("transition_theta05_nopool", "transition", "compression = 0.5; pool = 0; " + bn,
           Transition(4, 0.5, 0), randn(2, 4, 3, 3))


def main():
    torch.manual_seed(21)
    out = sys.stdout
    out.write("# generated by tests/reference/densenet_reference.py (torch %s)\n"
              % torch.__version__)
    for name, kind, params, model, x in cases():
        model = randomize(model.double())
        model.train()
        x = x.clone().requires_grad_(True)
        y = model(x)
        dy = f32(torch.randn(y.shape, dtype=torch.float64))
        (y * dy).sum().backward()
        named = [("%s.%s" % (sn, pn), p) for sn, m in model.named_stages()
                 for pn, p in m.named_parameters()]
        out.write("case %s %s\n" % (name, kind))
        out.write("params %s\n" % params)
        out.write("shape %s\n" % " ".join(str(d) for d in x.shape))
        emit(out, "x", x)
        for pname, p in named:
            emit(out, pname, p)
        emit(out, "dy", dy)
        emit(out, "y", y)
        emit(out, "grad_x", x.grad)
        for pname, p in named:
            emit(out, "grad_" + pname, p.grad)
        for sn, m in model.named_stages():
            if isinstance(m, nn.BatchNorm2d):
                emit(out, sn + ".running_mean", m.running_mean)
                emit(out, sn + ".running_var", m.running_var)
        out.write("end\n")


if __name__ == "__main__":
    main()
