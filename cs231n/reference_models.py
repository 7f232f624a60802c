"""The reference solution of PyTorch.ipynb's open-ended Part IV: a fast CIFAR-10 network.

``FastNet`` (a fixed patch-whitening layer and three conv-batchnorm-GELU stages), its training
recipe ``FastRecipe`` and ``train_fast``, which trains it with the helpers of
``cs231n.torch_utils``. The notebook's write-up explains the choices and
``benchmarks/train_pytorch_model.py`` runs the same code. Solution only: the student release
(``tools/release.py``) leaves this module out, and students build their own model instead.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from cs231n.torch_utils import BatchLoader, History, augment, channel_stats, normalize, train


def patch_whitening(x: torch.Tensor, patch_size: int = 2, eps: float = 5e-4) -> torch.Tensor:
    """Conv filters that whiten the ``k x k`` patches (``k = patch_size``) of images ``x``.

    ``x: (N, C, H, W)``. With the patch covariance ``S = U diag(lam) U^T`` the filters are the
    rows of ``U^T / sqrt(lam + eps)``, followed by their negatives (so that a GELU after them
    passes both signs): returns ``(2 * C * k * k, C, k, k)``, same dtype as ``x``.
    """
    c, k = x.shape[1], patch_size
    patches = x.unfold(2, k, 1).unfold(3, k, 1)  # (N, C, H - k + 1, W - k + 1, k, k)
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * k * k).to(torch.float64)
    patches = patches - patches.mean(dim=0)
    covariance = patches.T @ patches / patches.shape[0]
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    filters = (eigenvectors.T / torch.sqrt(eigenvalues + eps)[:, None]).reshape(-1, c, k, k)
    filters = torch.cat([filters, -filters]).to(x.dtype)
    return filters


class ConvBlock(nn.Module):
    """conv 3x3 - max pool 2x2 - batchnorm - GELU - conv 3x3 - batchnorm - GELU.

    ``(N, in_channels, H, W) -> (N, out_channels, H // 2, W // 2)``. The convolutions start as
    identity maps on their first ``in_channels`` filters; the batchnorm scales stay at 1.
    """

    def __init__(self, in_channels: int, out_channels: int, bn_momentum: float = 0.4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels, momentum=bn_momentum)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=bn_momentum)
        with torch.no_grad():
            for conv in (self.conv1, self.conv2):
                nn.init.dirac_(conv.weight[: conv.in_channels])
        for bn in (self.bn1, self.bn2):
            bn.weight.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.bn1(F.max_pool2d(self.conv1(x), 2)))
        x = F.gelu(self.bn2(self.conv2(x)))
        return x


class FastNet(nn.Module):
    """Normalize - whitening conv 2x2 - GELU - three ConvBlocks - global max pool - linear.

    Takes raw pixel values ``(N, 3, 32, 32)`` (0..255) and returns class scores ``(N, 10)``,
    multiplied by ``logit_scale``. ``mean, std: (3,)`` are the training set's channel statistics.
    The whitening filters are fixed (``init_whitening``); only their bias is trained.
    """

    def __init__(
        self,
        mean: torch.Tensor,
        std: torch.Tensor,
        widths: tuple[int, int, int] = (64, 256, 256),
        logit_scale: float = 1 / 9,
    ) -> None:
        super().__init__()
        self.register_buffer("mean", mean.clone().float())
        self.register_buffer("std", std.clone().float())
        self.whiten = nn.Conv2d(3, 24, 2, bias=True)
        self.whiten.weight.requires_grad_(False)
        channels = [24, *widths]
        self.blocks = nn.Sequential(
            *(ConvBlock(a, b) for a, b in zip(channels[:-1], channels[1:], strict=True))
        )
        self.head = nn.Linear(channels[-1], 10, bias=False)
        self.logit_scale = logit_scale

    def init_whitening(self, x: torch.Tensor) -> None:
        """Set the whitening filters from raw training images ``x: (N, 3, 32, 32)``."""
        x = normalize(x.to(self.mean.device), self.mean, self.std)
        with torch.no_grad():
            self.whiten.weight.copy_(patch_whitening(x, 2))
            self.whiten.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.whiten(normalize(x, self.mean, self.std)))
        x = self.blocks(x)
        scores = self.head(torch.amax(x, dim=(2, 3))) * self.logit_scale
        return scores


@dataclass
class FastRecipe:
    """Everything that defines a Part IV training run (see ``train_fast``).

    ``lr`` is the peak learning rate of the weights (mean loss over a batch); the biases use
    ``lr * bias_lr_scale``. ``weight_decay`` is PyTorch's (coupled) decay of the weights; the
    biases decay by the same amount per step. The learning rate rises linearly from
    ``start_factor * lr`` to ``lr`` over the first ``warmup`` fraction of the steps, then falls
    linearly to 0. ``translate``: random shifts of up to this many pixels (and random flips).
    ``whiten_bias_epochs``: the whitening bias is frozen after this many epochs. ``tta``: the
    test-time augmentation level of ``predict``. ``bf16``: autocast to bfloat16.

    ``budget_minutes``: the wall time that training plus the test evaluation may take. ``None``
    trains for ``epochs``; with a budget, ``epochs`` only shapes the first epoch's warm-up,
    after which ``EpochBudget`` fixes the length from the measured epoch time.
    """

    widths: tuple[int, int, int] = (48, 192, 192)
    epochs: int = 9
    budget_minutes: float | None = None
    batch_size: int = 500
    lr: float = 0.64
    bias_lr_scale: float = 64.0
    momentum: float = 0.85
    weight_decay: float = 1.5e-3
    label_smoothing: float = 0.2
    translate: int = 2
    warmup: float = 0.2
    start_factor: float = 0.2
    whiten_bias_epochs: int = 3
    tta: int = 2
    bf16: bool = True

    @classmethod
    def for_device(cls, device: torch.device) -> FastRecipe:
        """On a CPU, as many epochs as fit in 12 minutes; on a GPU, a wider net for 16 epochs."""
        if device.type == "cuda":
            recipe = cls(widths=(128, 384, 384), epochs=16)
        else:
            recipe = cls(budget_minutes=12.0)
        return recipe


class OneCycle:
    """Learning-rate factor of each step (a ``LambdaLR`` lambda): linear from ``start_factor``
    up to 1 over the first ``warmup`` fraction of ``total_steps``, then linear down to 0 at
    ``total_steps``. ``total_steps`` may be changed during training (``EpochBudget`` does)."""

    def __init__(self, total_steps: int, warmup: float, start_factor: float) -> None:
        self.total_steps, self.warmup, self.start_factor = total_steps, warmup, start_factor

    @property
    def peak(self) -> int:
        """The step at which the factor reaches 1."""
        return max(1, round(self.warmup * self.total_steps))

    def __call__(self, step: int) -> float:
        peak = self.peak
        if step < peak:
            return self.start_factor + (1 - self.start_factor) * step / peak
        return max(0.0, (self.total_steps - step) / max(1, self.total_steps - peak))


class EpochBudget:
    """Fits a run's length into a wall-time budget: an ``on_epoch_end`` hook for ``tu.train``.

    After each epoch, the epochs that fit are those whose time (the median of the epochs so
    far, which a passing burst of load does not move) fits in what is left of ``seconds``,
    counted from ``start`` (a ``time.perf_counter()`` value), after the test evaluation,
    estimated as ``test_checks`` times the median validation check, and a safety ``margin``
    (a fraction of the budget). The schedule's length follows: it may grow
    or shrink while the learning rate still warms up, and only shrink afterwards, so that the
    learning rate never rises again once it falls. ``log`` prints each change of plan.
    """

    def __init__(
        self,
        seconds: float,
        start: float,
        schedule: OneCycle,
        steps_per_epoch: int,
        test_checks: float,
        margin: float = 0.03,
        log: Callable[[str], None] = print,
    ) -> None:
        self.seconds, self.start, self.schedule = seconds, start, schedule
        self.steps_per_epoch, self.test_checks, self.margin = steps_per_epoch, test_checks, margin
        self.log = log

    def __call__(self, done: int, history: History) -> int:
        planned = self.schedule.total_steps // self.steps_per_epoch
        elapsed = time.perf_counter() - self.start
        epoch_seconds = statistics.median(history.epoch_seconds)
        test_seconds = self.test_checks * statistics.median(history.check_seconds or [0.0])
        left = self.seconds * (1 - self.margin) - elapsed - test_seconds
        fit = done + max(0, math.floor(left / epoch_seconds))
        warming_up = done * self.steps_per_epoch < self.schedule.peak
        epochs = fit if warming_up else min(fit, planned)
        if epochs != planned:
            self.schedule.total_steps = epochs * self.steps_per_epoch
            self.log(
                f"time budget {self.seconds / 60:.1f} min: {elapsed:.0f} s used after "
                f"{done} epoch(s) of {epoch_seconds:.0f} s (median), test evaluation "
                f"estimated at {test_seconds:.0f} s: {epochs} epochs in all"
            )
        return epochs


def train_fast(
    recipe: FastRecipe,
    data: dict[str, torch.Tensor],
    device: torch.device,
    seed: int = 0,
    progress: bool = True,
) -> tuple[FastNet, History]:
    """Build a ``FastNet`` and train it on ``data['X_train'], data['y_train']`` (raw pixels,
    see ``load_cifar10_tensors``) following ``recipe``; the history checks ``X_val`` after
    each epoch. With ``recipe.budget_minutes``, the budget counts from this call and covers
    the evaluation of ``data['X_test']`` with ``recipe.tta`` (when there is a test set).
    Returns the trained model (in eval mode) and its history.
    """
    start = time.perf_counter()
    torch.manual_seed(seed)
    mean, std = channel_stats(data["X_train"])
    model = FastNet(mean, std, recipe.widths).to(device)
    model.init_whitening(data["X_train"][:5000])
    model = model.to(memory_format=torch.channels_last)

    trainable = [p for p in model.parameters() if p.requires_grad]
    weights = [p for p in trainable if p.ndim > 1]
    biases = [p for p in trainable if p.ndim == 1]
    bias_lr = recipe.lr * recipe.bias_lr_scale
    optimizer = torch.optim.SGD(
        [
            {"params": weights, "lr": recipe.lr, "weight_decay": recipe.weight_decay},
            {
                "params": biases,
                "lr": bias_lr,
                "weight_decay": recipe.lr * recipe.weight_decay / bias_lr,
            },
        ],
        momentum=recipe.momentum,
        nesterov=True,
    )
    train_loader = BatchLoader(
        data["X_train"],
        data["y_train"],
        recipe.batch_size,
        shuffle=True,
        transform=lambda x, generator: augment(x, generator, recipe.translate),
        drop_last=True,
        device=device,
        seed=seed,
        memory_format=torch.channels_last,
    )
    val_loader = BatchLoader(
        data["X_val"], data["y_val"], 1000, device=device, memory_format=torch.channels_last
    )
    schedule = OneCycle(recipe.epochs * len(train_loader), recipe.warmup, recipe.start_factor)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    budget = None
    if recipe.budget_minutes is not None:
        passes = {0: 1, 1: 2, 2: 4}[recipe.tta]  # forward passes per test image
        test_checks = passes * len(data.get("X_test", ())) / len(data["X_val"])
        budget = EpochBudget(
            60 * recipe.budget_minutes,
            start,
            schedule,
            len(train_loader),
            test_checks,
            log=tqdm.write,
        )

    def freeze_whitening_bias(epoch: int) -> None:
        model.whiten.bias.requires_grad_(epoch < recipe.whiten_bias_epochs)

    history = train(
        model,
        optimizer,
        train_loader,
        val_loader,
        recipe.epochs,
        loss_fn=lambda scores, y: F.cross_entropy(
            scores, y, label_smoothing=recipe.label_smoothing
        ),
        scheduler=scheduler,
        autocast_dtype=torch.bfloat16 if recipe.bf16 else None,
        on_epoch_start=freeze_whitening_bias,
        on_epoch_end=budget,
        progress=progress,
    )
    model.eval()
    return model, history
