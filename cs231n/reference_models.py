"""The reference solution of PyTorch.ipynb's open-ended Part IV: a fast CIFAR-10 network.

``FastNet`` (a fixed patch-whitening layer and three conv-batchnorm-GELU stages), its training
recipe ``FastRecipe``, ``fit_to_machine``, which chooses its precision and widths from the
machine's measured speed, and ``train_fast``, which trains it with the helpers of
``cs231n.torch_utils`` within a time budget (``TimeBudget``). The notebook's write-up
explains the choices and ``benchmarks/train_pytorch_model.py`` runs the same code. Solution
only: the student release (``tools/release.py``) leaves this module out, and students build
their own model instead.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from cs231n import torch_utils as tu
from cs231n.reference_models_budget import (
    BUDGET_MARGIN,
    FORWARD_SHARE,
    TimeBudget,
    WarmupSchedule,
    steps_in_budget,
)
from cs231n.torch_utils import (
    BatchLoader,
    History,
    augment,
    channel_stats,
    normalize,
    random_crop,
    train,
)


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
    linearly to 0. ``translate``: random shifts of up to this many pixels. ``flips``:
    ``"alternate"`` (each image mirrored in every other epoch, ``BatchLoader``'s
    ``alternate_flips``) or ``"random"`` (each time with probability 1/2).
    ``whiten_bias_epochs``: the whitening bias is frozen after this many epochs. ``tta``: the
    test-time augmentation level of ``predict``. ``bf16``: autocast to bfloat16; ``None``
    decides from the machine (``fit_to_machine``): only where it computes in bfloat16 natively
    and a timed probe confirms that it is faster.

    ``budget_minutes``: the wall time that training plus the test evaluation may take. ``None``
    trains for ``epochs``. With a budget, ``TimeBudget`` fixes the length of the run from the
    measured step time after the first few steps (``epochs`` is only the first plan), and
    ``widths=None`` picks the widest of ``width_choices`` for which at least ``min_epochs``
    epochs fit (else the narrowest), from a timed probe of each.
    """

    widths: tuple[int, int, int] | None = (48, 192, 192)
    epochs: int = 9
    budget_minutes: float | None = None
    batch_size: int = 500
    lr: float = 0.64
    bias_lr_scale: float = 64.0
    momentum: float = 0.85
    weight_decay: float = 1.5e-3
    label_smoothing: float = 0.2
    translate: int = 2
    flips: str = "alternate"
    warmup: float = 0.2
    start_factor: float = 0.2
    whiten_bias_epochs: int = 3
    tta: int = 2
    bf16: bool | None = None
    width_choices: tuple[tuple[int, int, int], ...] = (
        (24, 96, 96),
        (32, 128, 128),
        (40, 160, 160),
        (48, 192, 192),
    )
    min_epochs: int = 8

    @classmethod
    def for_device(cls, device: torch.device) -> FastRecipe:
        """On a CPU, widths, precision and length fitted to 12 minutes of this machine (see
        ``fit_to_machine``, which ``train_fast`` runs); on a GPU, a wider net for 16 epochs."""
        if device.type == "cuda":
            recipe = cls(widths=(128, 384, 384), epochs=16, bf16=True)
        else:
            recipe = cls(widths=None, budget_minutes=12.0)
        return recipe


class OneCycle(WarmupSchedule):
    """Learning-rate factor of each step (a ``LambdaLR`` lambda): linear from ``start_factor``
    up to 1 over the first ``warmup`` fraction of ``total_steps``, then linear down to 0 at
    ``total_steps``, which ``TimeBudget`` may change during training."""

    def decay(self, done: float) -> float:
        return 1.0 - done


# ---------------------------------------------------------------------------------------------
# Fitting the recipe to the machine
# ---------------------------------------------------------------------------------------------

# Forward passes per test image at each test-time augmentation level of ``tu.predict``.
TTA_PASSES = {0: 1, 1: 2, 2: 4}


def time_steps(
    widths: tuple[int, int, int], bf16: bool, batch_size: int, device: torch.device, steps: int = 2
) -> float:
    """Seconds per training step of a fresh ``FastNet`` of ``widths`` on a random batch of
    ``batch_size`` images (autocast to bfloat16 if ``bf16``): the median of ``steps`` timed
    steps after one that warms up."""
    model = FastNet(torch.zeros(3), torch.ones(3), widths).to(device)
    model = model.to(memory_format=torch.channels_last)
    x = (255 * torch.rand(batch_size, 3, 32, 32, device=device)).contiguous(
        memory_format=torch.channels_last
    )
    y = torch.randint(0, 10, (batch_size,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.85, nesterov=True)
    seconds = []
    for _ in range(steps + 1):
        step_start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            scores = model(x)
        loss = F.cross_entropy(scores.float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - step_start)
    return statistics.median(seconds[1:])


def fit_to_machine(
    recipe: FastRecipe,
    device: torch.device | str,
    num_train: int,
    start: float | None = None,
    measure: Callable[[tuple[int, int, int], bool], float] | None = None,
    native: tuple[bool, str] | None = None,
    log: Callable[[str], None] = print,
) -> FastRecipe:
    """``recipe`` with what it leaves to the machine decided: ``bf16`` and ``widths``.

    Precision: bfloat16 only where ``device`` computes in it natively (``native``, default
    ``tu.native_bf16(device)``) and one timed step of each precision, at the widest of the
    ``width_choices``, confirms that it is faster. Widths (needs ``budget_minutes``): the widest
    of ``width_choices`` for which ``min_epochs`` epochs of ``num_train`` images fit in what is
    left of the budget, counted from ``start`` (default: now), from a timed probe of each, the
    narrowest first; the narrowest if none does. ``measure(widths, bf16)``: seconds per step
    (default ``time_steps`` on ``device`` with the recipe's batch size). ``log`` says what was
    chosen and why.
    """
    start = time.perf_counter() if start is None else start
    device = torch.device(device)
    if measure is None:

        def measure(widths: tuple[int, int, int], bf16: bool) -> float:
            return time_steps(widths, bf16, recipe.batch_size, device)

    if recipe.bf16 is None:
        recipe = dataclasses.replace(
            recipe, bf16=_choose_bf16(recipe, device, measure, native, log)
        )
    if recipe.widths is None:
        if recipe.budget_minutes is None:
            raise ValueError("widths=None (chosen from the machine's speed) needs budget_minutes")
        recipe = dataclasses.replace(
            recipe, widths=_choose_widths(recipe, num_train, start, measure, log)
        )
    return recipe


def _choose_bf16(recipe, device, measure, native, log) -> bool:
    """Whether ``recipe`` should autocast to bfloat16 on ``device`` (see ``fit_to_machine``)."""
    has_bf16, why = tu.native_bf16(device) if native is None else native
    use_bf16 = False
    if has_bf16:
        widths = recipe.widths or recipe.width_choices[-1]
        seconds = {bf16: measure(widths, bf16) for bf16 in (False, True)}
        use_bf16 = seconds[True] < seconds[False]
        why += (
            f"; a step of widths {widths} took {seconds[True]:.2f} s in bfloat16 and "
            f"{seconds[False]:.2f} s in float32"
        )
    log(f"precision: {'bfloat16 autocast' if use_bf16 else 'float32'} ({why})")
    return use_bf16


def _choose_widths(recipe, num_train, start, measure, log) -> tuple[int, int, int]:
    """The widest of ``recipe.width_choices`` that fits ``min_epochs`` (see ``fit_to_machine``)."""
    steps_per_epoch = num_train // recipe.batch_size
    check_steps = FORWARD_SHARE * 1000 / recipe.batch_size  # a check: 1,000 validation images
    test_checks = TTA_PASSES[recipe.tta] * 10  # the test: 10,000 images
    chosen = recipe.width_choices[0]
    for widths in recipe.width_choices:
        step = measure(widths, recipe.bf16)
        left = 60 * recipe.budget_minutes * (1 - BUDGET_MARGIN) - (time.perf_counter() - start)
        steps = steps_in_budget(left, step, check_steps * step, test_checks, steps_per_epoch)
        epochs = steps / steps_per_epoch
        log(f"widths {widths}: {step:.2f} s a step, {epochs:.1f} epochs fit in the budget")
        if epochs < recipe.min_epochs:
            break
        chosen = widths
    log(
        f"widths: {chosen} (the widest of which {recipe.min_epochs} epochs fit, else the narrowest)"
    )
    return chosen


def _optimizer(model: FastNet, recipe: FastRecipe) -> torch.optim.SGD:
    """Nesterov SGD: the weights at ``recipe.lr`` with weight decay, the biases (and batchnorm
    scales) at ``bias_lr_scale`` times that rate with the same effective decay."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    weights = [p for p in trainable if p.ndim > 1]
    biases = [p for p in trainable if p.ndim == 1]
    bias_lr = recipe.lr * recipe.bias_lr_scale
    groups = [
        {"params": weights, "lr": recipe.lr, "weight_decay": recipe.weight_decay},
        {
            "params": biases,
            "lr": bias_lr,
            "weight_decay": recipe.lr * recipe.weight_decay / bias_lr,
        },
    ]
    return torch.optim.SGD(groups, momentum=recipe.momentum, nesterov=True)


def _loaders(
    recipe: FastRecipe, data: dict[str, torch.Tensor], device: torch.device, seed: int
) -> tuple[BatchLoader, BatchLoader]:
    """The shuffled, augmented training batches and the validation batches (channels-last)."""
    if recipe.flips not in ("alternate", "random"):
        raise ValueError(f"recipe.flips must be 'alternate' or 'random', got {recipe.flips!r}")
    alternate = recipe.flips == "alternate"

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if alternate:  # the loader mirrors
            return random_crop(x, recipe.translate, generator)
        return augment(x, generator, recipe.translate)  # shifts and random flips

    train_loader = BatchLoader(
        data["X_train"],
        data["y_train"],
        recipe.batch_size,
        shuffle=True,
        transform=transform,
        drop_last=True,
        device=device,
        seed=seed,
        memory_format=torch.channels_last,
        alternate_flips=alternate,
    )
    val_loader = BatchLoader(
        data["X_val"], data["y_val"], 1000, device=device, memory_format=torch.channels_last
    )
    return train_loader, val_loader


def _budget(
    recipe: FastRecipe, data: dict[str, torch.Tensor], schedule: OneCycle, steps: int, start: float
) -> TimeBudget | None:
    """The time budget of ``recipe.budget_minutes`` from ``start``, which also covers the
    validation checks and the test-time evaluation; None without a budget."""
    if recipe.budget_minutes is None:
        return None
    test_checks = TTA_PASSES[recipe.tta] * len(data.get("X_test", ())) / len(data["X_val"])
    check_steps = FORWARD_SHARE * len(data["X_val"]) / recipe.batch_size
    return TimeBudget(
        60 * recipe.budget_minutes, start, schedule, steps, test_checks, check_steps, log=tqdm.write
    )


def train_fast(
    recipe: FastRecipe,
    data: dict[str, torch.Tensor],
    device: torch.device,
    seed: int = 0,
    progress: bool = True,
    start: float | None = None,
) -> tuple[FastNet, History]:
    """Build a ``FastNet`` and train it on ``data['X_train'], data['y_train']`` (raw pixels,
    see ``load_cifar10_tensors``) following ``recipe`` (with its ``widths`` and ``bf16`` set:
    see ``fit_to_machine``); the history checks ``X_val`` after each epoch. With
    ``recipe.budget_minutes``, the budget counts from ``start`` (a ``time.perf_counter()``
    value; default: this call) and covers the evaluation of ``data['X_test']`` with
    ``recipe.tta`` (when there is a test set). Returns the trained model (in eval mode) and
    its history.
    """
    start = time.perf_counter() if start is None else start
    if recipe.widths is None or recipe.bf16 is None:
        raise ValueError(
            f"recipe.widths and recipe.bf16 must be set (fit_to_machine sets them), got "
            f"widths={recipe.widths!r}, bf16={recipe.bf16!r}"
        )
    torch.manual_seed(seed)
    mean, std = channel_stats(data["X_train"])
    model = FastNet(mean, std, recipe.widths).to(device)
    model.init_whitening(data["X_train"][:5000])
    model = model.to(memory_format=torch.channels_last)
    optimizer = _optimizer(model, recipe)
    train_loader, val_loader = _loaders(recipe, data, device, seed)
    schedule = OneCycle(recipe.epochs * len(train_loader), recipe.warmup, recipe.start_factor)

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
        scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, schedule),
        autocast_dtype=torch.bfloat16 if recipe.bf16 else None,
        on_epoch_start=freeze_whitening_bias,
        after_step=_budget(recipe, data, schedule, len(train_loader), start),
        progress=progress,
    )
    model.eval()
    return model, history
