"""Convolution speed: the numpy reference conv2d (forward + backward) vs torch's CPU conv2d (forward + autograd).

    .venv/bin/python -m benchmarks.conv                   # x = (64, 3, 32, 32), w = (16, 3, 3, 3), stride 1, padding 1
    .venv/bin/python -m benchmarks.conv --repeat 100 --json conv.json
    .venv/bin/python -m benchmarks.conv --tiny            # a smoke run on a tiny size

Each round times, one after the other in the same process: ``dlcourse.convolution.conv2d_forward`` followed by
``conv2d_backward`` (float64; dx, dw and db), then torch's ``F.conv2d`` forward and ``backward`` with x, w and b
requiring gradients, in float64 (the same arithmetic as numpy) and in float32 (torch's default dtype). The
rounds interleave the three so that a drift of a shared machine's speed hits all of them; the figures are the
medians over ``--repeat`` rounds, after ``--warmup`` untimed ones. torch keeps its default thread count
(``torch.get_num_threads()``) unless ``--threads`` is given; numpy's BLAS keeps its own. Before timing, the
numpy results are checked against torch's float64 ones; the script fails if they differ. ``python -m benchmarks``
runs this as part of the suite's table 3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass

import numpy as np

from .common import agree, blas_threads, median_ms, ratio, sig, time_rounds

GOAL = 3.0  # numpy within 3x of torch (issue 11)


@dataclass(frozen=True)
class ConvSize:
    """x = (batch, channels, size, size), w = (filters, channels, kernel, kernel)."""

    batch: int = 64
    channels: int = 3
    size: int = 32
    filters: int = 16
    kernel: int = 3
    stride: int = 1
    padding: int = 1

    def out_size(self) -> int:
        """H' = W' of the output."""
        from dlcourse import convolution

        return convolution.conv_output_size(self.size, self.kernel, self.stride, self.padding)

    def gemm(self) -> tuple[int, int, int]:
        """(M, K, N) of the forward pass's matrix product w (F, C k k) @ cols (C k k, N H' W'), all images."""
        return self.filters, self.channels * self.kernel ** 2, self.batch * self.out_size() ** 2

    def flops(self) -> int:
        """Multiply-adds x 2 of forward + backward: three products of the forward's size (out, dw, dx)."""
        m, k, n = self.gemm()
        return 3 * 2 * m * k * n


TINY = ConvSize(batch=2, size=8, filters=4)


def _problem(size: ConvSize, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(size.batch, size.channels, size.size, size.size))
    w = rng.normal(size=(size.filters, size.channels, size.kernel, size.kernel)) / size.kernel
    b = rng.normal(size=size.filters)
    dout = rng.normal(size=(size.batch, size.filters, size.out_size(), size.out_size()))
    return x, w, b, dout


def runners(size: ConvSize, seed: int = 0) -> dict:
    """``{"numpy", "torch64", "torch32"}``: callables doing one forward + backward, returning (out, dx, dw, db)."""
    import torch

    from dlcourse import convolution

    x, w, b, dout = _problem(size, seed)
    s, p = size.stride, size.padding

    def run_numpy():
        out = convolution.conv2d_forward(x, w, b, s, p)
        return (out, *convolution.conv2d_backward(dout, x, w, s, p))

    def torch_runner(dtype):
        xt, wt, bt = (torch.tensor(a, dtype=dtype, requires_grad=True) for a in (x, w, b))
        dt = torch.tensor(dout, dtype=dtype)

        def run():
            xt.grad = wt.grad = bt.grad = None
            out = torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p)
            out.backward(dt)
            return out.detach(), xt.grad, wt.grad, bt.grad

        return run

    return {"numpy": run_numpy, "torch64": torch_runner(torch.float64), "torch32": torch_runner(torch.float32)}


def check_same_numbers(run: dict) -> float:
    """The largest relative difference between numpy's and torch's float64 results; ValueError above 1e-10."""
    return agree(dict(zip(("out", "dx", "dw", "db"), zip(run["numpy"](), run["torch64"]()))), "conv2d results")


def measure(size: ConvSize = ConvSize(), repeat: int = 30, warmup: int = 3, seed: int = 0) -> dict:
    """The figures of one benchmark run (medians in ms, ratios numpy / torch with their round-by-round range)."""
    import torch

    run = runners(size, seed)
    max_error = check_same_numbers(run)
    times = time_rounds(run, repeat, warmup)
    r64, r32 = ratio(times["numpy"], times["torch64"]), ratio(times["numpy"], times["torch32"])
    results = {
        "x": [size.batch, size.channels, size.size, size.size],
        "w": [size.filters, size.channels, size.kernel, size.kernel], "stride": size.stride, "padding": size.padding,
        "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "blas_threads": blas_threads(),
        "numpy_version": np.__version__, "torch_version": torch.__version__, "repeat": repeat, "warmup": warmup,
        "numpy_ms": median_ms(times["numpy"]), "torch_ms": median_ms(times["torch64"]),
        "torch_float32_ms": median_ms(times["torch32"]),
        "ratio": r64["ratio"], "ratio_range": [r64["ratio_min"], r64["ratio_max"]],
        "ratio_float32": r32["ratio"], "ratio_float32_range": [r32["ratio_min"], r32["ratio_max"]],
        "numpy_min_ms": sig(min(times["numpy"]) * 1e3), "torch_min_ms": sig(min(times["torch64"]) * 1e3),
        "torch_float32_min_ms": sig(min(times["torch32"]) * 1e3),
        "max_relative_error": max_error, "goal": GOAL, "gemm": list(size.gemm()), "flops": size.flops(),
    }
    results["within_goal"] = results["ratio"] <= GOAL and results["ratio_float32"] <= GOAL
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conv", description=__doc__.split("\n\n")[0])
    default = ConvSize()
    parser.add_argument("--batch", type=int, default=default.batch, help="N (default 64)")
    parser.add_argument("--channels", type=int, default=default.channels, help="C (default 3)")
    parser.add_argument("--size", type=int, default=default.size, help="H = W (default 32)")
    parser.add_argument("--filters", type=int, default=default.filters, help="F (default 16)")
    parser.add_argument("--kernel", type=int, default=default.kernel, help="HH = WW (default 3)")
    parser.add_argument("--stride", type=int, default=default.stride)
    parser.add_argument("--padding", type=int, default=default.padding)
    parser.add_argument("--tiny", action="store_true", help="x = (2, 3, 8, 8), w = (4, 3, 3, 3), 3 rounds: a smoke run")
    parser.add_argument("--repeat", type=int, default=30, help="timed rounds (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    size = ConvSize(args.batch, args.channels, args.size, args.filters, args.kernel, args.stride, args.padding)
    if args.tiny:
        size, args.repeat, args.warmup = TINY, 3, 1
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        results = measure(size, args.repeat, args.warmup, args.seed)
    except ValueError as err:
        print(err)
        return 1
    print(f"\n| conv2d forward + backward, x = {tuple(results['x'])}, w = {tuple(results['w'])}, stride {size.stride}, "
          f"padding {size.padding}; median of {args.repeat} rounds, {os.cpu_count()} cores, torch "
          f"{results['torch_threads']} threads | ms |")
    print("|---|---|")
    print(f"| numpy (`dlcourse.convolution`, float64) | {results['numpy_ms']:.2f} |")
    print(f"| torch `F.conv2d` + autograd, float64 | {results['torch_ms']:.2f} |")
    print(f"| torch `F.conv2d` + autograd, float32 | {results['torch_float32_ms']:.2f} |")
    print(f"\nnumpy / torch: {results['ratio']}x against float64 (rounds: {results['ratio_range'][0]}-"
          f"{results['ratio_range'][1]}x), {results['ratio_float32']}x against float32 (rounds: "
          f"{results['ratio_float32_range'][0]}-{results['ratio_float32_range'][1]}x); "
          f"within {GOAL:g}x: {results['within_goal']}")
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
