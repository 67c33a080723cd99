#!/usr/bin/python3
"""The PyTorch peer of bench/run.sh: the four workloads of the shared BRIEF.md
(Performance), trained on the CPU in float32 with softmax cross-entropy on a
fixed random batch, as the shared anchor script does.

Usage: torch_peer.py [--plain] THREADS SECONDS WORKLOAD...
WORKLOAD is one of the four, or mlp:WIDTH:DEPTH:BATCH, the dense family of
bench/sweep.sh: 784 -> DEPTH x (WIDTH, relu) -> 10, SGD lr 0.01.
Prints one line per workload: "NAME samples/s=N norms_samples/s=M", the
second figure with every tensor's gradient norm read each step (the
counterpart of gradscope's monitoring); --plain leaves it out (and its
measurement, which doubles the time)."""
import sys
import time

import torch
import torch.nn as nn


class Res(nn.Module):
    def __init__(s, w):
        super().__init__()
        s.a = nn.Linear(w, w)
        s.b = nn.Linear(w, w)

    def forward(s, x):
        return x + s.b(torch.relu(s.a(x)))


def mlp(inp, width, depth, out, act):
    layers, d = [], inp
    for _ in range(depth):
        layers += [nn.Linear(d, width), act()]
        d = width
    layers += [nn.Linear(d, out)]
    return nn.Sequential(*layers)


WORKLOADS = {
    "deep-narrow": (lambda: mlp(784, 64, 32, 10, nn.Tanh), 32, "sgd"),
    "mnist-mlp": (lambda: mlp(784, 256, 2, 10, nn.ReLU), 128, "adam"),
    "wide": (lambda: mlp(784, 1024, 4, 10, nn.ReLU), 256, "sgd"),
    "resmlp": (lambda: nn.Sequential(nn.Linear(784, 256), *[Res(256) for _ in range(16)],
                                     nn.Linear(256, 10)), 128, "adam"),
}


def rate(model, opt, x, y, seconds, norms):
    lf = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        lf(model(x), y).backward()
        if norms:
            [p.grad.norm().item() for p in model.parameters()]
        opt.step()

    for _ in range(10):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n * x.shape[0] / (time.perf_counter() - t0)


def workload(name):
    if not name.startswith("mlp:"):
        return WORKLOADS[name]
    try:
        width, depth, batch = (int(v) for v in name.split(":")[1:])
    except ValueError:
        sys.exit(f"torch_peer.py: '{name}' is not mlp:WIDTH:DEPTH:BATCH")
    return (lambda: mlp(784, width, depth, 10, nn.ReLU), batch, "sgd")


def main():
    args = sys.argv[1:]
    plain_only = bool(args) and args[0] == "--plain"
    if plain_only:
        args = args[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    threads, seconds = int(args[0]), float(args[1])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for name in args[2:]:
        make, batch, kind = workload(name)
        model = make()
        opt = (torch.optim.SGD(model.parameters(), lr=0.01) if kind == "sgd"
               else torch.optim.Adam(model.parameters(), lr=1e-3))
        x, y = torch.randn(batch, 784), torch.randint(0, 10, (batch,))
        plain = rate(model, opt, x, y, seconds, False)
        if plain_only:
            print(f"{name} samples/s={plain:.0f}", flush=True)
            continue
        norms = rate(model, opt, x, y, seconds, True)
        print(f"{name} samples/s={plain:.0f} norms_samples/s={norms:.0f}", flush=True)


main()
