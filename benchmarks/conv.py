"""Convolution speed: the numpy reference conv2d (forward + backward) vs torch's CPU conv2d (forward + autograd).

    .venv/bin/python benchmarks/conv.py                   # x = (64, 3, 32, 32), w = (16, 3, 3, 3), stride 1, padding 1
    .venv/bin/python benchmarks/conv.py --repeat 100 --json conv.json
    .venv/bin/python benchmarks/conv.py --tiny            # a smoke run on a tiny size

Each round times, one after the other in the same process: ``dlcourse.convolution.conv2d_forward`` followed by
``conv2d_backward`` (float64; dx, dw and db), then torch's ``F.conv2d`` forward and ``backward`` with x, w and b
requiring gradients, in float64 (the same arithmetic as numpy) and in float32 (torch's default dtype). The
rounds interleave the three so that a drift of a shared machine's speed hits all of them; the figures are the
medians over ``--repeat`` rounds, after ``--warmup`` untimed ones. torch keeps its default thread count
(``torch.get_num_threads()``) unless ``--threads`` is given; numpy's BLAS keeps its own. Before timing, the
numpy results are checked against torch's float64 ones; the script fails if they differ.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

GOAL = 3.0  # numpy within 3x of torch (issue 11)


def _sig(v: float) -> float:
    """``v`` to three significant digits (a ratio of 0.004 stays 0.004, not 0.0)."""
    return float(f"{v:.3g}")


def _blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return next((p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"), None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64, help="N (default 64)")
    parser.add_argument("--channels", type=int, default=3, help="C (default 3)")
    parser.add_argument("--size", type=int, default=32, help="H = W (default 32)")
    parser.add_argument("--filters", type=int, default=16, help="F (default 16)")
    parser.add_argument("--kernel", type=int, default=3, help="HH = WW (default 3)")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--padding", type=int, default=1)
    parser.add_argument("--tiny", action="store_true", help="x = (2, 3, 8, 8), w = (4, 3, 3, 3), 3 rounds: a smoke run")
    parser.add_argument("--repeat", type=int, default=30, help="timed rounds (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    if args.tiny:
        args.batch, args.size, args.filters, args.repeat, args.warmup = 2, 8, 4, 3, 1
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")

    import torch

    from dlcourse import convolution

    if args.threads:
        torch.set_num_threads(args.threads)
    fn = torch.nn.functional
    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(args.batch, args.channels, args.size, args.size))
    w = rng.normal(size=(args.filters, args.channels, args.kernel, args.kernel)) / args.kernel
    b = rng.normal(size=args.filters)
    out_size = convolution.conv_output_size(args.size, args.kernel, args.stride, args.padding)
    dout = rng.normal(size=(args.batch, args.filters, out_size, out_size))
    s, p = args.stride, args.padding

    def run_numpy():
        out = convolution.conv2d_forward(x, w, b, s, p)
        return (out, *convolution.conv2d_backward(dout, x, w, s, p))

    def torch_runner(dtype):
        xt, wt, bt = (torch.tensor(a, dtype=dtype, requires_grad=True) for a in (x, w, b))
        dt = torch.tensor(dout, dtype=dtype)

        def run():
            xt.grad = wt.grad = bt.grad = None
            out = fn.conv2d(xt, wt, bt, stride=s, padding=p)
            out.backward(dt)
            return out.detach(), xt.grad, wt.grad, bt.grad

        return run

    runners = {"numpy": run_numpy, "torch64": torch_runner(torch.float64), "torch32": torch_runner(torch.float32)}

    # the same numbers first
    errors = {name: float(np.max(np.abs(mine - theirs.numpy()), initial=0.0)) / max(1.0, float(np.max(np.abs(mine))))
              for name, mine, theirs in zip(("out", "dx", "dw", "db"), run_numpy(), runners["torch64"]())}
    if max(errors.values()) > 1e-10:
        print(f"numpy and torch (float64) disagree: relative errors {errors}")
        return 1

    times: dict[str, list[float]] = {name: [] for name in runners}
    for i in range(args.warmup + args.repeat):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            if i >= args.warmup:
                times[name].append(time.perf_counter() - start)
    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    per_round = sorted(a / c for a, c in zip(times["numpy"], times["torch64"]))
    per_round32 = sorted(a / c for a, c in zip(times["numpy"], times["torch32"]))
    results = {
        "x": list(x.shape), "w": list(w.shape), "stride": s, "padding": p,
        "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "blas_threads": _blas_threads(),
        "numpy_version": np.__version__, "torch_version": torch.__version__,
        "repeat": args.repeat, "warmup": args.warmup,
        "numpy_ms": round(ms["numpy"], 3), "torch_ms": round(ms["torch64"], 3),
        "torch_float32_ms": round(ms["torch32"], 3),
        "ratio": _sig(ms["numpy"] / ms["torch64"]),
        "ratio_range": [_sig(per_round[0]), _sig(per_round[-1])],
        "ratio_float32": _sig(ms["numpy"] / ms["torch32"]),
        "ratio_float32_range": [_sig(per_round32[0]), _sig(per_round32[-1])],
        "numpy_min_ms": round(min(times["numpy"]) * 1e3, 3), "torch_min_ms": round(min(times["torch64"]) * 1e3, 3),
        "torch_float32_min_ms": round(min(times["torch32"]) * 1e3, 3),
        "max_relative_error": max(errors.values()),
        "goal": GOAL,
    }
    results["within_goal"] = results["ratio"] <= GOAL and results["ratio_float32"] <= GOAL
    print(f"\n| conv2d forward + backward, x = {tuple(x.shape)}, w = {tuple(w.shape)}, stride {s}, padding {p}; "
          f"median of {args.repeat} rounds, {os.cpu_count()} cores, torch {torch.get_num_threads()} threads | ms |")
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
