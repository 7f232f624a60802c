"""Seconds per training epoch of the PyTorch notebook's Part IV network, for several widths.

What fixes the Part IV recipe on a CPU: with 12 minutes of wall time, the epoch time of a
width decides how many epochs fit. For each width this times training steps of ``FastNet``
(forward with and without bfloat16 autocast, loss, backward, Nesterov SGD step; channels-last
batches of ``--batch`` random images, as in ``train_fast``) in turns, and scales the median
step to an epoch of 49,000 images. Random images stand in for CIFAR-10: the time does not
depend on the pixel values.

    python benchmarks/bench_fastnet_epoch.py [--repeat 4] [--batch 500] [--threads N] [--bf16]

bfloat16 autocast is timed only where the CPU computes in bfloat16 natively (``--bf16`` times
it anyway): elsewhere PyTorch emulates it, and one step takes minutes.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from _machine import describe
from _timing import cores, round_robin

from cs231n import _cpu
from cs231n import reference_models as rm

NUM_TRAIN = 49_000
WIDTHS = ((24, 96, 96), (32, 128, 128), (40, 160, 160), (48, 192, 192), (64, 256, 256))


def make_step(widths: tuple[int, int, int], batch: int, bf16: bool):
    """A closure running one training step of a fresh ``FastNet`` on a fixed random batch."""
    model = rm.FastNet(torch.zeros(3), torch.ones(3), widths).to(memory_format=torch.channels_last)
    x = (255 * torch.rand(batch, 3, 32, 32)).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.85, nesterov=True)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            scores = model(x)
        loss = F.cross_entropy(scores.float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=4, help="timed steps per variant")
    parser.add_argument("--batch", type=int, default=500, help="images per step")
    parser.add_argument("--threads", type=int, default=cores(), help="torch CPU threads")
    parser.add_argument("--bf16", action="store_true", help="time bfloat16 even if emulated")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    native, why = _cpu.native_bf16()
    print(describe())
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}")
    print(f"native bfloat16: {native} ({why})")
    precisions = (True, False) if native or args.bf16 else (False,)
    steps = {
        (widths, bf16): make_step(widths, args.batch, bf16)
        for widths in WIDTHS
        for bf16 in precisions
    }
    times = round_robin(steps, repeat=args.repeat)
    print("| widths | precision | s per step (best, median) | s per epoch (median) |")
    print("|---|---|---:|---:|")
    for (widths, bf16), (best, median) in times.items():
        epoch = median * NUM_TRAIN / args.batch
        precision = "bfloat16 autocast" if bf16 else "float32"
        print(f"| {widths} | {precision} | {best:.2f}, {median:.2f} | {epoch:.0f} |")


if __name__ == "__main__":
    main()
