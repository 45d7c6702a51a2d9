#!/usr/bin/env python3
"""PyTorch twin of atelier's nn backbones: the performance anchor of `atelier bench train-step`
and `atelier bench infer`.

It builds the same architecture as nn.Backbone (nn/backbone.go) with the same configuration,
batch, input size, 50-class head and optimizer (Adam, lr 1e-3), uses every core, and prints the
same JSON: {"backend", "arch", "batch", "input", "gflop_per_step", "seconds_per_step",
"images_per_second", "steps"} (median of the timed steps after two warm-up steps).

Usage: bench/pytorch_twin.py [--infer] [--batch 32] [--input 128] [--steps 5] [--arch patch|resnet]
                             [--channels-last]
Needs Debian's python3-torch (run it with /usr/bin/python3).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
from torch import nn

# The configurations of nn.DefaultBackbone and nn.ResNetBackbone.
CONFIGS = {
    "patch": dict(widths=(64, 128, 256, 512), depths=(1, 2, 2, 1)),
    "resnet": dict(widths=(64, 128, 256, 512), depths=(2, 2, 2, 2)),
}
CLASSES = 50


def conv_bn(cin, cout, k, stride, pad, relu):
    layers = [nn.Conv2d(cin, cout, k, stride, pad, bias=False), nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    """The patch backbone's block: 1x1 reduce to c/2, 3x3, 1x1 expand, residual, ReLU."""

    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(conv_bn(c, c // 2, 1, 1, 0, True), conv_bn(c // 2, c // 2, 3, 1, 1, True),
                                  conv_bn(c // 2, c, 1, 1, 0, False))

    def forward(self, x):
        return torch.relu(x + self.body(x))


class Basic(nn.Module):
    """The ResNet backbone's block: two 3x3 convolutions, 1x1 projection when the shape changes."""

    def __init__(self, cin, c, stride):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, c, 3, stride, 1, True), conv_bn(c, c, 3, 1, 1, False))
        self.project = conv_bn(cin, c, 1, stride, 0, False) if stride != 1 or cin != c else nn.Identity()

    def forward(self, x):
        return torch.relu(self.body(x) + self.project(x))


def backbone(arch):
    w, d = CONFIGS[arch]["widths"], CONFIGS[arch]["depths"]
    mods = []
    if arch == "patch":
        mods.append(conv_bn(3, w[0], 4, 4, 0, True))
        for s in range(4):
            if s > 0:
                mods.append(conv_bn(w[s - 1], w[s], 2, 2, 0, True))
            mods.extend(Bottleneck(w[s]) for _ in range(d[s]))
    else:
        mods += [conv_bn(3, w[0], 7, 2, 3, True), nn.MaxPool2d(3, 2, 1)]
        cin = w[0]
        for s in range(4):
            for b in range(d[s]):
                mods.append(Basic(cin, w[s], 2 if s > 0 and b == 0 else 1))
                cin = w[s]
    return nn.Sequential(*mods, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w[3], CLASSES))


def forward_flops(model, x):
    """FLOPs of the convolutions and linear layers of one forward pass (2 per multiply-add)."""
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            total[0] += 2 * out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            total[0] += 2 * out.numel() * mod.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--infer", action="store_true", help="time inference (eval mode, no_grad) instead of a train step")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--input", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--arch", choices=sorted(CONFIGS), default="patch")
    p.add_argument("--channels-last", action="store_true",
                   help="run in torch.channels_last memory format (NHWC, as the Go side) instead of the default NCHW")
    a = p.parse_args()
    if a.steps < 5 or a.batch < 1 or a.input % 32:
        p.error("--steps must be >= 5, --batch >= 1 and --input a multiple of 32")

    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(1)
    model = backbone(a.arch)
    x = torch.rand(a.batch, 3, a.input, a.input) * 2 - 1
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, CLASSES, (a.batch,))
    model.eval()
    flops = forward_flops(model, x)

    if a.infer:
        def step():
            with torch.no_grad():
                model(x)
    else:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        flops *= 3  # forward, gradients of activations and of weights, as the Go benchmark counts

        def step():
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), labels).backward()
            opt.step()

    times = []
    for i in range(2 + a.steps):
        start = time.perf_counter()
        step()
        d = time.perf_counter() - start
        if i >= 2:
            times.append(d)
        print(f"  step {i + 1}/{2 + a.steps}: {d:.3f}s", file=sys.stderr)
    secs = statistics.median(times)
    print(json.dumps({
        "backend": f"pytorch-{torch.__version__}-cpu-{torch.get_num_threads()}threads" + ("-channels-last" if a.channels_last else ""),
        "arch": a.arch, "batch": a.batch, "input": a.input,
        "gflop_per_step": round(flops / 1e9, 2), "seconds_per_step": secs,
        "images_per_second": round(a.batch / secs, 1), "steps": a.steps,
    }))


if __name__ == "__main__":
    main()
