#!/usr/bin/env python3
"""Reference values for tests/test_resnet_conv.c: the resnet block on images
written out in PyTorch (nn.Conv2d, nn.BatchNorm2d in training mode, ReLU),
as gradscope builds it.

    basic branch       conv3x3(stride) [-> bn -> relu -> conv3x3] ...
    bottleneck branch  conv1x1 to units/4, conv3x3(stride), conv1x1 to units
    post (He 2015)     y = relu(lambda s(x) + F(x)), F = conv-bn-relu-conv-bn
    pre  (He 2016)     y = lambda s(x) + F(x),       F = bn-relu-conv-bn-relu-conv
    mlp                y = lambda s(x) + F(x),       F = conv-bn-relu-conv
    shortcut           identity where the shapes agree; "projection": conv1x1
                       with the stride, then bn (option B); "pad":
                       x[:, :, ::s, ::s] with zero channels appended (option
                       A); "none": no shortcut.
    A convolution has no bias where a batch norm follows it.

Writes tests/fixtures/resnet_reference.txt: for each case the input x, every
parameter under gradscope's name inside the block ("conv0.weight",
"norm1.bias", "projection.weight"...), an upstream gradient dy, and
PyTorch's output y and gradients of L = sum(dy * y) with respect to x and
every parameter ("grad_" + name), and each batch norm's running statistics
after the step.  Inputs, parameters and dy are float32 numbers, so that the
C test loads them exactly in either precision; PyTorch computes in float64.

Run once, from the source tree, and commit the output:

    python3 tests/reference/resnet_reference.py > tests/fixtures/resnet_reference.txt

Format as tests/fixtures/conv_reference.txt: "case NAME TYPE", "params ...",
"shape N C H W", "NAME COUNT v..." lines, "end".
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def f32(t):
    """Rounded to float32, held in float64."""
    return t.float().double()


def emit(out, name, t):
    vals = t.detach().reshape(-1).tolist()
    out.write("%s %d %s\n" % (name, len(vals), " ".join(repr(float(v)) for v in vals)))


def randomize(module):
    """Parameters off PyTorch's init (gamma near 1), so that a scale error shows."""
    with torch.no_grad():
        for name, q in module.named_parameters():
            v = torch.randn(q.shape, dtype=torch.float64) * 0.5
            if isinstance(module, nn.BatchNorm2d) and name == "weight":
                v = 1.0 + 0.3 * v
            q.copy_(f32(v))


class Block(nn.Module):
    def __init__(self, cin, units, stride, form, branch, shortcut, norm, scale, depth=2):
        super().__init__()
        self.form, self.shortcut, self.scale, self.stride = form, shortcut, scale, stride
        self.cin, self.units = cin, units
        if branch == "bottleneck":
            convs = [(cin, units // 4, 1, 1), (units // 4, units // 4, 3, stride),
                     (units // 4, units, 1, 1)]
        else:
            convs = [(cin if i == 0 else units, units, 3, stride if i == 0 else 1)
                     for i in range(depth)]
        self.names, self.stages = [], nn.ModuleList()
        last = len(convs) - 1
        width = cin
        for i, (ci, co, k, s) in enumerate(convs):
            followed = norm and (i < last or form == "post")
            if form == "pre":
                if norm:
                    self.add("norm%d" % i, nn.BatchNorm2d(width))
                if norm or i == 0:
                    self.add("act%d" % i, nn.ReLU())
            self.add("conv%d" % i, nn.Conv2d(ci, co, k, stride=s, padding=k // 2,
                                             bias=not followed))
            width = co
            if form == "pre":
                if not norm and i < last:
                    self.add("act%d_fused" % i, nn.ReLU())
            elif followed:
                self.add("norm%d" % i, nn.BatchNorm2d(co))
                if i < last:
                    self.add("act%d" % i, nn.ReLU())
            elif i < last:
                self.add("act%d_fused" % i, nn.ReLU())
        self.proj = None
        if shortcut == "projection" and (cin != units or stride != 1):
            self.proj = nn.Conv2d(cin, units, 1, stride=stride, bias=not norm)
            self.proj_norm = nn.BatchNorm2d(units) if norm else None

    def add(self, name, module):
        self.names.append(name)
        self.stages.append(module)

    def named_tensors(self):
        """Parameters under gradscope's names, and the batch norms."""
        out, norms = [], []
        pairs = list(zip(self.names, self.stages))
        if self.proj is not None:
            pairs.append(("projection", self.proj))
            if self.proj_norm is not None:
                pairs.append(("projection_norm", self.proj_norm))
        for name, m in pairs:
            for pname, p in m.named_parameters():
                out.append(("%s.%s" % (name, pname), p))
            if isinstance(m, nn.BatchNorm2d):
                norms.append((name, m))
        return out, norms

    def forward(self, x):
        f = x
        for m in self.stages:
            f = m(f)
        if self.shortcut == "none":
            s = None
        elif self.proj is not None:
            s = self.proj(x)
            if self.proj_norm is not None:
                s = self.proj_norm(s)
        elif self.cin != self.units or self.stride != 1:  # option A
            s = x[:, :, ::self.stride, ::self.stride]
            s = F.pad(s, (0, 0, 0, 0, 0, self.units - self.cin))
        else:
            s = x
        z = f if s is None else self.scale * s + f
        return torch.relu(z) if self.form == "post" else z


def case(cin, units, stride, form, branch, shortcut, norm=True, scale=1.0):
    block = Block(cin, units, stride, form, branch, shortcut, norm, scale).double()
    for m in block.modules():
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)):
            randomize(m)
    block.train()
    params = 'units = %d; stride = %d; form = "%s"; branch = "%s"; shortcut = "%s"; ' \
             'norm = "%s";' % (units, stride, form, branch, shortcut,
                               "batchnorm" if norm else "none")
    if scale != 1.0:
        params += " shortcut_scale = %r;" % scale
    return params, block


def randn(*shape, scale=1.0, shift=0.0):
    return f32(torch.randn(*shape, dtype=torch.float64) * scale + shift)


def cases():
    yield "basic_post_projection_s2", case(4, 8, 2, "post", "basic", "projection"), \
        randn(2, 4, 7, 7)
    yield "basic_pre_identity", case(4, 4, 1, "pre", "basic", "projection"), randn(2, 4, 6, 6)
    yield "bottleneck_post_projection_s2", \
        case(4, 8, 2, "post", "bottleneck", "projection", scale=0.7), randn(2, 4, 6, 6)
    yield "bottleneck_pre_identity", case(8, 8, 1, "pre", "bottleneck", "projection"), \
        randn(2, 8, 5, 5)
    yield "basic_post_pad_s2", case(3, 6, 2, "post", "basic", "pad", scale=0.5), \
        randn(2, 3, 8, 8)
    yield "plain_post_none", case(4, 4, 1, "post", "basic", "none"), randn(2, 4, 6, 6)
    yield "basic_mlp_nonorm_projection", case(3, 5, 1, "mlp", "basic", "projection",
                                              norm=False), randn(2, 3, 5, 5)
    yield "basic_pre_pad_s2", case(2, 4, 2, "pre", "basic", "pad"), randn(2, 2, 5, 5)


def main():
    torch.manual_seed(2021)
    out = sys.stdout
    out.write("# generated by tests/reference/resnet_reference.py (torch %s)\n"
              % torch.__version__)
    for name, (params, block), x in cases():
        x = x.clone().requires_grad_(True)
        y = block(x)
        dy = f32(torch.randn(y.shape, dtype=torch.float64))
        (y * dy).sum().backward()
        named, norms = block.named_tensors()
        out.write("case %s resnet\n" % name)
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
        for nname, m in norms:
            emit(out, nname + ".running_mean", m.running_mean)
            emit(out, nname + ".running_var", m.running_var)
        out.write("end\n")


if __name__ == "__main__":
    main()
