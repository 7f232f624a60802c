"""Train the Part IV network of PyTorch.ipynb from scratch; print test accuracy and wall time.

Runs the notebook's code path: ``FastRecipe.for_device`` (the CPU recipe, or the GPU one when
CUDA is available), ``train_fast`` on the first 49,000 training images (the last 1,000 are the
validation set), then the test accuracy on the 10,000 test images with the recipe's test-time
augmentation. The goal is 89% within 12 minutes on a 2-core CPU with native bfloat16, 87% or 84%
on float32 CPUs by their speed (``tu.part4_goal``; PyTorch.ipynb, Part IV, and
``benchmarks/README.md`` for what it reaches on each class of CPU). The recipe's precision and
widths are fitted to the machine (``fit_to_machine``), unless ``--set`` fixes them.

``--set FIELD=VALUE`` changes one field of the recipe (repeatable), for comparing recipes:

    CS231N_CIFAR10=/path/to/cifar-10-batches-py python benchmarks/train_pytorch_model.py
    python benchmarks/train_pytorch_model.py --epochs 4 --seed 1 --threads 2 --cpu
    python benchmarks/train_pytorch_model.py --budget 10 --seed 2
    python benchmarks/train_pytorch_model.py --set widths=64,256,256 --set epochs=8 --set lr=0.4
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import torch
from _machine import describe
from _timing import cores

from cs231n import reference_models as rm
from cs231n import torch_utils as tu


def with_settings(recipe: rm.FastRecipe, settings: list[str]) -> rm.FastRecipe:
    """``recipe`` with each ``FIELD=VALUE`` of ``settings`` applied (a tuple as ``a,b,c``)."""
    fields = {f.name: getattr(recipe, f.name) for f in dataclasses.fields(recipe)}
    changes = {}
    for setting in settings:
        name, sep, text = setting.partition("=")
        if not sep or name not in fields:
            raise SystemExit(f"--set wants FIELD=VALUE with FIELD one of {', '.join(fields)}")
        current = fields[name]
        if text == "None" and name in ("widths", "bf16", "budget_minutes"):
            changes[name] = None  # left to the machine (widths, bf16) or no budget
        elif name == "bf16" or isinstance(current, bool):
            if text not in ("True", "False"):
                raise SystemExit(f"--set {name} wants True or False, got {text!r}")
            changes[name] = text == "True"
        elif name == "widths" or isinstance(current, tuple):
            changes[name] = tuple(int(v) for v in text.split(","))
        else:
            changes[name] = type(current)(text)
    return dataclasses.replace(recipe, **changes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--epochs", type=int, help="train exactly this many epochs (no time budget)"
    )
    parser.add_argument(
        "--budget", type=float, metavar="MINUTES", help="time budget for training and test"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--cpu", action="store_true", help="use the CPU even if CUDA is available")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="change the recipe"
    )
    args = parser.parse_args(argv)

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = tu.pick_device(use_cuda=not args.cpu)
    recipe = rm.FastRecipe.for_device(device)
    if args.epochs is not None and args.budget is not None:
        parser.error("--epochs and --budget exclude each other")
    if args.epochs is not None:
        widths = recipe.widths or recipe.width_choices[-1]
        recipe = dataclasses.replace(recipe, epochs=args.epochs, budget_minutes=None, widths=widths)
    if args.budget is not None:
        recipe = dataclasses.replace(recipe, budget_minutes=args.budget)
    recipe = with_settings(recipe, args.set)
    print(f"device: {tu.describe_device(device)}; {cores()} cores; torch {torch.__version__}")
    print(describe())

    start = time.perf_counter()
    data = tu.load_cifar10_tensors(num_training=49000, num_validation=1000, num_test=10000)
    loaded = time.perf_counter()
    recipe = rm.fit_to_machine(recipe, device, len(data["y_train"]), start=loaded)
    print(recipe, flush=True)
    model, history = rm.train_fast(
        recipe, data, device, seed=args.seed, progress=not args.no_progress, start=loaded
    )
    trained = time.perf_counter()
    for epoch, acc in enumerate(history.val_acc, 1):
        print(f"epoch {epoch}: validation accuracy {acc:.4f}")
    loader_test = tu.BatchLoader(
        data["X_test"], data["y_test"], 1000, device=device, memory_format=torch.channels_last
    )
    autocast_dtype = torch.bfloat16 if recipe.bf16 else None
    test_acc = tu.accuracy(model, loader_test, autocast_dtype, tta=recipe.tta)
    done = time.perf_counter()

    print(f"test accuracy: {test_acc:.4f} (tta level {recipe.tta}, {len(data['y_test'])} images)")
    print(f"epochs: {len(history.epoch_seconds)}; budget: {recipe.budget_minutes} min")
    print(
        f"wall time: {done - loaded:.0f} s for training and test evaluation "
        f"(training {trained - loaded:.0f} s, test {done - trained:.0f} s); "
        f"{done - start:.0f} s with data loading"
    )
    goal, why = tu.part4_goal(device)
    print(f"goal: {goal:.1%} ({why}): {'met' if test_acc >= goal else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
