"""Forward + backward time of the fast conv and max-pool layers against PyTorch (CPU).

For every case and dtype, ours and PyTorch run on the same inputs in the same process,
in turns (``_timing.round_robin``): on a busy machine the ratio ours / PyTorch is the
number to trust. numpy's BLAS and PyTorch get the same number of threads (``--threads``,
default: every core). ``--threads 1 --cpu-time`` times single-threaded CPU time instead
of wall time, which stays stable when other processes compete for the cores.

The naive layers are timed once on the first ``--naive-batch`` samples and scaled
linearly to the full batch (their cost is linear in N); ``--naive-batch 0`` skips them.

    python benchmarks/bench_fast_layers.py [--threads N] [--cpu-time] [--repeat 5]
        [--naive-batch 10] [--strategies]

Prints a markdown table; times are best-of-``repeat`` in milliseconds, the ratios are
of the best and of the median times.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from _timing import cores, ms, round_robin
from threadpoolctl import threadpool_limits

from cs231n import fast_layers, layers

# (x shape, w shape, stride, pad)
CONV_CASES = [
    ((100, 3, 31, 31), (25, 3, 3, 3), 2, 1),
    ((50, 3, 32, 32), (32, 3, 7, 7), 1, 3),
    ((128, 64, 16, 16), (64, 64, 3, 3), 1, 1),
]
# (x shape, pool size, stride): the conv outputs above with 2x2 windows, stride 2 (they
# tile), and with 3x3 windows, stride 2 (they overlap; one row and column fewer so that
# the windows tile the input).
POOL_CASES = [
    ((100, 25, 16, 16), 2, 2),
    ((50, 32, 32, 32), 2, 2),
    ((128, 64, 16, 16), 2, 2),
    ((100, 25, 15, 15), 3, 2),
    ((50, 32, 31, 31), 3, 2),
    ((128, 64, 15, 15), 3, 2),
]
CONV = {
    "conv fast": (fast_layers.conv_forward_fast, fast_layers.conv_backward_fast),
    "conv im2col": (fast_layers.conv_forward_im2col, fast_layers.conv_backward_im2col),
    "conv strides": (fast_layers.conv_forward_strides, fast_layers.conv_backward_strides),
    "conv naive": (layers.conv_forward_naive, layers.conv_backward_naive),
}
POOL = {
    "pool fast": (fast_layers.max_pool_forward_fast, fast_layers.max_pool_backward_fast),
    "pool reshape": (fast_layers.max_pool_forward_reshape, fast_layers.max_pool_backward_reshape),
    "pool im2col": (fast_layers.max_pool_forward_im2col, fast_layers.max_pool_backward_im2col),
    "pool naive": (layers.max_pool_forward_naive, layers.max_pool_backward_naive),
}


def numpy_layer(forward: Callable, backward: Callable, dout: np.ndarray, *inputs) -> Callable:
    def run():
        _, cache = forward(*inputs)
        backward(dout, cache)

    return run


def torch_layer(op: Callable, dout: np.ndarray, x: np.ndarray, *params: np.ndarray) -> Callable:
    tx = torch.tensor(x, requires_grad=True)
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    tdout = torch.tensor(dout)

    def run():
        op(tx, *tparams).backward(tdout)

    return run


class Table:
    def __init__(self, clock: Callable[[], float], repeat: int, naive_batch: int) -> None:
        self.clock, self.repeat, self.naive_batch = clock, repeat, naive_batch
        print(
            "| layer | case | dtype | ours | PyTorch | ours / PyTorch (best, median) "
            "| naive* | naive / ours |"
        )
        print("|---|---|---|---:|---:|---:|---:|---:|")

    def naive_time(self, run_subset: Callable, batch: int) -> float | None:
        if not self.naive_batch:
            return None
        start = self.clock()
        run_subset()
        return (self.clock() - start) * batch / min(self.naive_batch, batch)

    def rows(self, case: str, dtype, ours: dict[str, Callable], theirs: Callable, naive) -> None:
        times = round_robin({**ours, "torch": theirs}, repeat=self.repeat, clock=self.clock)
        t_best, t_median = times["torch"]
        for name in ours:
            best, median = times[name]
            naive_cols = "- | -" if naive is None else f"{ms(naive)} | {naive / best:.0f}x"
            print(
                f"| {name} | {case} | {np.dtype(dtype).name} | {ms(best)} | {ms(t_best)} | "
                f"{best / t_best:.2f}, {median / t_median:.2f} | {naive_cols} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=cores())
    parser.add_argument("--cpu-time", action="store_true", help="thread CPU time (1 thread)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--naive-batch", type=int, default=10)
    parser.add_argument("--strategies", action="store_true", help="time every strategy too")
    args = parser.parse_args()
    if args.cpu_time and args.threads != 1:
        parser.error("--cpu-time measures one thread: use it with --threads 1")
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    clock = time.thread_time if args.cpu_time else time.perf_counter
    rng = np.random.default_rng(0)
    print(
        f"fast layers ({fast_layers.get_backend().name} kernels) vs PyTorch "
        f"{torch.__version__}, {args.threads} thread(s) on {cores()} core(s), "
        f"{'thread CPU' if args.cpu_time else 'wall'} time, best of {args.repeat}, "
        "ms per forward + backward\n"
    )
    table = Table(clock, args.repeat, args.naive_batch)
    conv_names = ["conv fast"] + (["conv im2col", "conv strides"] if args.strategies else [])
    pool_names = ["pool fast"] + (["pool reshape", "pool im2col"] if args.strategies else [])
    for dtype in (np.float32, np.float64):
        for x_shape, w_shape, stride, pad in CONV_CASES:
            x = rng.standard_normal(x_shape).astype(dtype)
            w = rng.standard_normal(w_shape).astype(dtype)
            b = rng.standard_normal(w_shape[0]).astype(dtype)
            param = {"stride": stride, "pad": pad}
            out, _ = fast_layers.conv_forward_fast(x, w, b, param)
            dout = rng.standard_normal(out.shape).astype(dtype)
            n = args.naive_batch
            naive = table.naive_time(
                numpy_layer(*CONV["conv naive"], dout[:n], x[:n], w, b, param), x_shape[0]
            )
            ours = {name: numpy_layer(*CONV[name], dout, x, w, b, param) for name in conv_names}

            def conv(tx, tw, tb, stride=stride, pad=pad):
                return F.conv2d(tx, tw, tb, stride=stride, padding=pad)

            case = f"x{x_shape} w{w_shape} s{stride} p{pad}"
            table.rows(case, dtype, ours, torch_layer(conv, dout, x, w, b), naive)
        for x_shape, size, stride in POOL_CASES:
            x = rng.standard_normal(x_shape).astype(dtype)
            param = {"pool_height": size, "pool_width": size, "stride": stride}
            out, _ = fast_layers.max_pool_forward_fast(x, param)
            dout = rng.standard_normal(out.shape).astype(dtype)
            n = args.naive_batch
            naive = table.naive_time(
                numpy_layer(*POOL["pool naive"], dout[:n], x[:n], param), x_shape[0]
            )
            names = [p for p in pool_names if p != "pool reshape" or size == stride]
            ours = {name: numpy_layer(*POOL[name], dout, x, param) for name in names}

            def pool(tx, size=size, stride=stride):
                return F.max_pool2d(tx, size, stride)

            case = f"x{x_shape} {size}x{size} s{stride}"
            table.rows(case, dtype, ours, torch_layer(pool, dout, x), naive)
    if args.naive_batch:
        print(
            f"\n*naive: timed once on the first {args.naive_batch} samples and scaled "
            "linearly to the batch."
        )


if __name__ == "__main__":
    main()
