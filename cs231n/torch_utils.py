"""PyTorch helpers for PyTorch.ipynb: data as tensors, augmentation, loaders, training loops.

Everything here runs on whichever device the tensors live on (CPU or CUDA). Images are
``(N, C, H, W)`` float tensors, labels ``(N,)`` int64 tensors. It is the only module of the
package the notebooks use that imports torch.

Sections:
- devices and data: ``pick_device``, ``native_bf16``, ``part4_goal``, ``load_cifar10_tensors``,
  ``channel_stats``, ``normalize``
- augmentation with tensor operations: ``random_crop``, ``random_flip``, ``mirror``, ``augment``
- ``BatchLoader``: shuffling mini-batches, every sample once per epoch
- training: ``predict``, ``accuracy``, ``train``, ``History``, ``plot_history``
- the model the grader evaluates: ``save_model`` (TorchScript, ``PyTorch_model.pt``)

Part IV's network and recipe are the student's own: nothing here is a model.
"""

from __future__ import annotations

import copy
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from cs231n import _cpu
from cs231n.data_utils import get_CIFAR10_data

# ---------------------------------------------------------------------------------------------
# Devices and data
# ---------------------------------------------------------------------------------------------


def pick_device(use_cuda: bool = True) -> torch.device:
    """CUDA when available (and wanted), else the CPU."""
    if use_cuda and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether ``device`` computes in bfloat16 natively (so that ``torch.autocast`` to
    ``torch.bfloat16`` can pay), and why, in words.

    On a CPU without bfloat16 instructions PyTorch emulates them, and a bfloat16 convolution
    runs many times slower than in float32: measure before you choose (see ``cs231n._cpu``).
    """
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
        return native, f"{torch.cuda.get_device_name(device)} {'has' if native else 'lacks'} bf16"
    return _cpu.native_bf16()


# Part IV's test-accuracy goal on each class of machine (_cpu.speed_class), from what a
# reference network reached there in 12 minutes (89.9-90.6% with native bfloat16, 85.0% on a
# 2-GHz, 2-core AVX2 CPU, 91.7% on a GPU).
PART4_GOALS = {"gpu": 0.915, "bf16": 0.89, "float32": 0.87, "slow": 0.84}


def part4_goal(device: torch.device) -> tuple[float, str]:
    """Part IV's test-accuracy goal on this machine, and why: 91.5% on a GPU, 89% on a CPU
    with native bfloat16, 87% on a float32 CPU that reaches ``_cpu.SLOW_CPU_GFLOPS``, 84% on
    a slower one (fewer epochs fit in 12 minutes)."""
    if device.type == "cuda":
        return PART4_GOALS["gpu"], f"a GPU ({torch.cuda.get_device_name(device)})"
    kind, why = _cpu.speed_class()
    return PART4_GOALS[kind], why


def describe_device(device: torch.device) -> str:
    """A one-line description, e.g. 'cuda (NVIDIA H100)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def load_cifar10_tensors(
    num_training: int = 49000,
    num_validation: int = 1000,
    num_test: int = 10000,
    cifar10_dir: str | None = None,
) -> dict[str, torch.Tensor]:
    """The classic split as tensors, pixel values 0..255 (no mean subtracted).

    Keys ``X_train, y_train, X_val, y_val, X_test, y_test``: images float32 ``(N, 3, 32, 32)``,
    labels int64 ``(N,)``. Validation is training rows ``[num_training, num_training +
    num_validation)``; see ``cs231n.data_utils.get_CIFAR10_data``.
    """
    data = get_CIFAR10_data(
        num_training, num_validation, num_test, subtract_mean=False, cifar10_dir=cifar10_dir
    )
    return {key: torch.from_numpy(value) for key, value in data.items()}


def channel_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of images ``x: (N, C, H, W)``, each ``(C,)``."""
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {tuple(x.shape)}")
    x64 = x.to(torch.float64)
    return x64.mean(dim=(0, 2, 3)).to(x.dtype), x64.std(dim=(0, 2, 3)).to(x.dtype)


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` channel by channel; ``x: (N, C, H, W)``, ``mean, std: (C,)``."""
    if x.ndim != 4 or mean.shape != (x.shape[1],) or std.shape != (x.shape[1],):
        raise ValueError(
            f"x must be (N, C, H, W) with mean and std of shape (C,), got x {tuple(x.shape)}, "
            f"mean {tuple(mean.shape)}, std {tuple(std.shape)}"
        )
    return (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


# ---------------------------------------------------------------------------------------------
# Augmentation with tensor operations (works on any device, one random draw per image)
# ---------------------------------------------------------------------------------------------


def random_crop(
    x: torch.Tensor, padding: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Pad ``x: (N, C, H, W)`` by ``padding`` pixels (reflection) and cut a random ``H x W``
    window out of each image: a random shift of up to ``padding`` pixels in each direction.
    """
    if padding == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4, mode="reflect")
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device="cpu").to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device="cpu").to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
    images = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[images, channels, rows, cols]


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image of ``x: (N, C, H, W)`` left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], generator=generator, device="cpu").to(x.device) < 0.5
    return mirror(x, flip)


def mirror(x: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """``x: (N, C, H, W)`` with the images where ``which: (N,)`` (bool) is True mirrored
    left-right."""
    return torch.where(which.view(-1, 1, 1, 1), x.flip(3), x)


def augment(
    x: torch.Tensor, generator: torch.Generator | None = None, padding: int = 4
) -> torch.Tensor:
    """Random shift by up to ``padding`` pixels, then a random horizontal flip."""
    return random_flip(random_crop(x, padding, generator), generator)


# ---------------------------------------------------------------------------------------------
# Mini-batches
# ---------------------------------------------------------------------------------------------


class BatchLoader:
    """Mini-batches ``(x, y)`` of a tensor data set, each sample exactly once per epoch.

    ``shuffle``: a new random order every epoch (from ``seed``); ``transform(x, generator)``:
    applied to each image batch, drawing from the loader's generator (for example ``augment``,
    or ``functools.partial(augment, padding=2)``); ``drop_last``: skip
    the final, smaller batch. ``memory_format=torch.channels_last`` suits oneDNN and cuDNN.
    ``alternate_flips``: mirror a random half of the images (drawn once) in even epochs and the
    other half in odd ones, before ``transform``: each image is then seen both ways in any two
    epochs in a row, where random flips show some images the same way twice (use a
    ``transform`` that does not flip as well, such as ``random_crop``).
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
        drop_last: bool = False,
        device: torch.device | str | None = None,
        seed: int | None = None,
        memory_format: torch.memory_format = torch.contiguous_format,
        alternate_flips: bool = False,
    ) -> None:
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"x and y must hold the same number of samples, got {x.shape[0]} and {y.shape[0]}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.device = torch.device(device) if device is not None else x.device
        self.x, self.y = x.to(self.device), y.to(self.device)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.transform, self.memory_format = transform, memory_format
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)
        self.epoch, self.flipped = 0, None  # flipped: the images mirrored in even epochs
        if alternate_flips:
            self.flipped = (torch.rand(x.shape[0], generator=self.generator) < 0.5).to(self.device)

    def __len__(self) -> int:
        n = self.x.shape[0]
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = self.x.shape[0]
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.device)
        else:
            order = torch.arange(n, device=self.device)
        flipped = None if self.flipped is None else self.flipped ^ bool(self.epoch % 2)
        self.epoch += 1
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            xb = self.x[idx]
            if flipped is not None:
                xb = mirror(xb, flipped[idx])
            if self.transform is not None:
                xb = self.transform(xb, self.generator)
            yield xb.contiguous(memory_format=self.memory_format), self.y[idx]


# ---------------------------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------------------------


@dataclass
class History:
    """What ``train`` records: one loss and mini-batch accuracy per iteration, the
    validation accuracy at each check (``val_iterations`` says after how many iterations),
    the wall time of each iteration (``step_seconds``: loading the batch and the update,
    without checks), of each epoch (its checks included), of each check, and in all."""

    loss: list[float] = field(default_factory=list)
    batch_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    val_iterations: list[int] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    check_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _set_mode(model: Callable, training: bool) -> None:
    """``model.train(training)`` for an ``nn.Module``; plain functions have no mode."""
    if isinstance(model, nn.Module):
        model.train(training)


def _autocast(device: torch.device, dtype: torch.dtype | None):
    """Mixed precision in ``dtype`` on ``device``, or a no-op context when ``dtype`` is None."""
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


@torch.no_grad()
def predict(
    model: Callable[[torch.Tensor], torch.Tensor],
    loader: BatchLoader,
    autocast_dtype: torch.dtype | None = None,
    tta: int = 0,
) -> torch.Tensor:
    """Class scores ``(N, num_classes)`` (float32) of ``model`` on every sample of ``loader``,
    in the loader's order.

    Test-time augmentation ``tta``: 0, none; 1, the mean of the scores of each image and its
    mirror image; 2, half that plus half the mean over the image shifted one pixel left and its
    mirror shifted one pixel right (4 forward passes instead of 1).
    """
    _check_tta(tta)
    _set_mode(model, False)
    scores = []
    for x, _ in loader:
        with _autocast(loader.device, autocast_dtype):
            scores.append(tta_scores(model, x, tta))
    return torch.cat(scores)


def _check_tta(tta: int) -> None:
    if tta not in (0, 1, 2):
        raise ValueError(f"tta must be 0, 1 or 2, got {tta!r}")


def tta_scores(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tta: int):
    """Float32 scores ``(N, C)`` of ``model`` on a batch ``x: (N, C, H, W)`` with test-time
    augmentation ``tta`` (see ``predict``)."""
    s = model(x).float()
    if tta >= 1:
        s = 0.5 * (s + model(x.flip(3)).float())
    if tta == 2:
        padded = F.pad(x, (1, 1, 0, 0), mode="reflect")
        left, right = padded[..., 2:], padded[..., :-2]
        shifted = 0.5 * (model(left).float() + model(right.flip(3)).float())
        s = 0.5 * (s + shifted)
    return s


def accuracy(
    model: Callable[[torch.Tensor], torch.Tensor],
    loader: BatchLoader,
    autocast_dtype: torch.dtype | None = None,
    tta: int = 0,
) -> float:
    """Fraction of the samples of ``loader`` that ``model`` classifies correctly
    (``loader`` must not shuffle; see ``predict`` for ``tta``)."""
    scores = predict(model, loader, autocast_dtype, tta)
    return (scores.argmax(dim=1) == loader.y).float().mean().item()


def train(
    model: Callable[[torch.Tensor], torch.Tensor],
    optimizer,
    train_loader: BatchLoader,
    val_loader: BatchLoader | None = None,
    epochs: int = 1,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    scheduler=None,
    checks_per_epoch: int = 1,
    autocast_dtype: torch.dtype | None = None,
    on_epoch_start: Callable[[int], None] | None = None,
    after_step: Callable[[int, History], int | None] | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader`` and return its ``History``.

    ``model``: an ``nn.Module`` or any function of a batch ``x`` returning scores ``(N, C)``.
    ``optimizer``: anything with ``zero_grad()`` and ``step()`` (a ``torch.optim`` optimizer
    or a hand-written one). ``scheduler``: stepped after every iteration. The validation
    accuracy is checked ``checks_per_epoch`` times per epoch, and once more at the end if the
    run stops inside an epoch. ``autocast_dtype``: run the forward pass in mixed precision
    (e.g. ``torch.bfloat16``). ``on_epoch_start(epoch)``: called before each epoch (epochs count
    from 0). ``after_step(iterations_done, history)``: called after each update; it may return
    the number of iterations to train in all (``None`` keeps the plan, at first ``epochs``
    times the batches per epoch): a time budget can fix the length of the run this way, from
    the first steps on, and the run may then end inside an epoch.
    """
    history = History()
    start = time.perf_counter()
    steps = len(train_loader)
    total = epochs * steps
    check_at = {round(steps * (k + 1) / checks_per_epoch) for k in range(checks_per_epoch)}
    bar = tqdm(total=total, disable=not progress, mininterval=2.0, unit="it")
    epoch = 0
    while len(history.loss) < total:
        epoch_start = time.perf_counter()
        if on_epoch_start is not None:
            on_epoch_start(epoch)
        step_start = time.perf_counter()
        for step, (x, y) in enumerate(train_loader, start=1):
            _train_step(model, optimizer, x, y, loss_fn, autocast_dtype, history)
            if scheduler is not None:
                scheduler.step()
            history.step_seconds.append(time.perf_counter() - step_start)
            done = len(history.loss)
            if after_step is not None:
                planned = after_step(done, history)
                total = total if planned is None else planned
            if val_loader is not None and (step in check_at or done >= total):
                _check(model, val_loader, autocast_dtype, history)
            bar.set_postfix(_progress_postfix(history), refresh=False)
            bar.update()
            step_start = time.perf_counter()
            if done >= total:
                break
        epoch += 1
        history.epoch_seconds.append(time.perf_counter() - epoch_start)
        bar.total = max(total, len(history.loss))
        bar.set_description(f"epoch {epoch}/{math.ceil(bar.total / steps)}")
    bar.close()
    history.seconds = time.perf_counter() - start
    return history


def _train_step(model, optimizer, x, y, loss_fn, autocast_dtype, history: History) -> None:
    """One update of ``model`` on the batch ``(x, y)``; records its loss and batch accuracy."""
    _set_mode(model, True)
    with _autocast(x.device, autocast_dtype):
        scores = model(x)
    loss = loss_fn(scores.float(), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    history.loss.append(loss.item())
    history.batch_acc.append((scores.argmax(dim=1) == y).float().mean().item())


def _check(model, val_loader: BatchLoader, autocast_dtype, history: History) -> None:
    """Measure and record the validation accuracy after ``len(history.loss)`` iterations."""
    check_start = time.perf_counter()
    history.val_acc.append(accuracy(model, val_loader, autocast_dtype))
    history.val_iterations.append(len(history.loss))
    history.check_seconds.append(time.perf_counter() - check_start)


def _progress_postfix(history: History) -> dict[str, str]:
    postfix = {"loss": f"{history.loss[-1]:.3f}"}
    if history.val_acc:
        postfix["val_acc"] = f"{history.val_acc[-1]:.3f}"
    return postfix


def plot_history(history: History, title: str = "") -> None:
    """Loss per iteration, and mini-batch (smoothed) and validation accuracy."""
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4))
    iterations = range(1, len(history.loss) + 1)
    ax_loss.plot(iterations, history.loss, lw=0.8)
    ax_loss.set(xlabel="iteration", ylabel="training loss", title="loss")
    window = max(1, len(history.batch_acc) // 20)
    kernel = torch.ones(window) / window
    smooth = torch.conv1d(torch.tensor(history.batch_acc).view(1, 1, -1), kernel.view(1, 1, -1))
    ax_acc.plot(
        range(window, len(history.batch_acc) + 1), smooth.flatten(), label="mini-batch (smoothed)"
    )
    if history.val_acc:
        ax_acc.plot(history.val_iterations, history.val_acc, "o-", label="validation")
    ax_acc.set(xlabel="iteration", ylabel="accuracy", title="accuracy")
    ax_acc.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.show()


# ---------------------------------------------------------------------------------------------
# The model the grader evaluates
# ---------------------------------------------------------------------------------------------

GRADED_MODEL_FILE = "PyTorch_model.pt"  # in the kit's top folder, beside the notebook


class _GradedModel(nn.Module):
    """Raw images ``(N, 3, 32, 32)``, uint8 pixel values 0..255, to float32 scores ``(N, 10)``:
    ``model`` on the images as float32 (as in the test cell), with test-time augmentation."""

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], tta: int) -> None:
        super().__init__()
        self.model, self.tta = model, tta

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return tta_scores(self.model, images.float(), self.tta)


def save_model(
    model: Callable[[torch.Tensor], torch.Tensor],
    tta: int = 0,
    path: str | os.PathLike = GRADED_MODEL_FILE,
) -> Path:
    """Save ``model`` as the grader evaluates it: TorchScript, traced on the CPU; returns the path.

    ``model``: an ``nn.Module`` (a copy is moved to the CPU and put in eval mode; the model
    itself is left as it is) or a function of CPU tensors, mapping raw images ``(N, 3, 32, 32)``
    with pixel values 0..255 (float32) to scores ``(N, 10)``, as in Part IV's test cell. The
    saved module takes uint8 images ``(N, 3, 32, 32)`` and does the rest itself (float32,
    ``tta`` as in ``predict``), so the grader needs nothing of this notebook to run it. The
    file holds no pickled Python: it loads with ``torch.jit.load``. Raises ValueError when the
    traced module does not reproduce ``model`` (a forward pass that depends on the batch size
    or on Python state that tracing cannot record).
    """
    _check_tta(tta)
    if isinstance(model, nn.Module):
        model = copy.deepcopy(model).cpu().eval()
    generator = torch.Generator().manual_seed(0)
    example, check = (
        torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator)
        for n in (4, 3)
    )
    wrapped = _GradedModel(model, tta).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the check below decides
        traced = torch.jit.trace(wrapped, example, check_trace=False)
        expected, got = wrapped(check), traced(check)
    if got.shape != expected.shape or not torch.allclose(got, expected, rtol=1e-4, atol=1e-4):
        raise ValueError(
            "model: its TorchScript trace gives other scores than the model on a batch of 3 "
            "images; make its forward pass depend on the images only (no Python branches on "
            "their values, no fixed batch size)"
        )
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.jit.save(traced, str(tmp))
    os.replace(tmp, path)
    return path
