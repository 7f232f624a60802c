"""A wall-time budget for the reference solutions of Part IV (PyTorch) and Part V (TensorFlow).

``TimeBudget`` re-plans the length of a training run after every step, from the measured
times of its steps and validation checks, so that training plus the test evaluation end
inside the budget on any machine: a slow CPU trains fewer steps from its first steps on, and
a machine that slows down mid-run stops sooner. It needs no framework: the run's history and
its learning-rate schedule are any objects with the attributes it reads. Solution only, like
``reference_models.py``: the student release leaves it out.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Protocol

from cs231n.solver import BUDGET_MARGIN, steps_that_fit

# A forward pass without gradients costs a fraction of a training step on the same batch
# (0.14-0.25 measured for Part IV's network on a 2-core CPU): the estimate of a check's (and the
# test's) time until a check is measured; the margin covers the rest.
FORWARD_SHARE = 1 / 4


class WarmupSchedule:
    """Learning-rate factor of each step: linear from ``start_factor`` up to 1 over the first
    ``warmup`` fraction of ``total_steps``, then down to 0 at ``total_steps`` along ``decay``
    (of the fraction of the decay done, 0 to 1; subclasses give it).

    ``replan(step, total)`` changes the length during training (``TimeBudget`` does): while the
    factor warms up, the peak moves with the new length; once it decays, the decay goes on from
    the factor reached at ``step`` to 0 at ``total``, so that the factor never rises again.
    """

    def __init__(self, total_steps: int, warmup: float, start_factor: float) -> None:
        self.total_steps, self.warmup, self.start_factor = total_steps, warmup, start_factor
        self.decay_from: tuple[int, float] | None = None  # (step, fraction done) of a replan

    @property
    def peak(self) -> int:
        """The step at which the factor reaches 1."""
        return max(1, round(self.warmup * self.total_steps))

    def __call__(self, step: int) -> float:
        if self.decay_from is None and step < self.peak:
            return self.start_factor + (1 - self.start_factor) * step / self.peak
        return self.decay(self.done(step))

    def done(self, step: int) -> float:
        """The fraction of the decay done at ``step`` (0 before the peak, 1 from the end on)."""
        start, start_done = self.decay_from or (self.peak, 0.0)
        left = max(1, self.total_steps - start)
        return min(1.0, max(0.0, start_done + (1 - start_done) * (step - start) / left))

    def replan(self, step: int, total_steps: int) -> None:
        """Train ``total_steps`` in all, from ``step`` on (see the class)."""
        if self.decay_from is not None or step >= self.peak:
            self.decay_from = (step, self.done(step))
        self.total_steps = total_steps

    def decay(self, done: float) -> float:
        raise NotImplementedError


class StepTimes(Protocol):
    """What a budget reads of a run: the seconds of each step and of each validation check
    (``torch_utils.History``)."""

    step_seconds: list[float]
    check_seconds: list[float]


class TimeBudget:
    """Fits a run into a wall-time budget from its first steps: an ``after_step`` hook for
    ``tu.train`` (Keras: ``reference_models_tf.BudgetCallback`` calls it).

    From step ``first_plan_after`` on, after every step, the steps that fit are those whose
    time fits in what is left of ``seconds``, counted from ``start`` (a ``time.perf_counter()``
    value), after a safety ``margin`` (a fraction of the budget), the run's last validation
    check and the test evaluation, ``test_checks`` times a check. A step's time is the median
    of the last ``window`` steps (the run's first step, which warms up, left out), which a
    passing burst of load does not move; each epoch adds a check, whose time is the median of
    those measured, or ``check_steps`` steps before the first. The schedule's length follows
    (``WarmupSchedule.replan``: once the learning rate falls, it never rises again), up to
    ``max_steps`` (if given): it shrinks when steps slow down and grows back when they speed
    up again. ``log`` prints the first plan and each change of plan at the end of an epoch.
    """

    def __init__(
        self,
        seconds: float,
        start: float,
        schedule: WarmupSchedule,
        steps_per_epoch: int,
        test_checks: float,
        check_steps: float,
        margin: float = BUDGET_MARGIN,
        first_plan_after: int = 3,
        window: int = 20,
        max_steps: int | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.seconds, self.start, self.margin = seconds, start, margin
        self.schedule, self.steps_per_epoch, self.max_steps = schedule, steps_per_epoch, max_steps
        self.test_checks, self.check_steps = test_checks, check_steps
        self.first_plan_after, self.window = first_plan_after, window
        self.log = log
        self.logged: int | None = None  # the plan last printed

    def __call__(self, done: int, history: StepTimes) -> int | None:
        if done < self.first_plan_after:
            return None
        elapsed = time.perf_counter() - self.start
        step = statistics.median(history.step_seconds[1:][-self.window :])
        check = statistics.median(history.check_seconds or [self.check_steps * step])
        fit = done + steps_in_budget(
            self.seconds * (1 - self.margin) - elapsed,
            step,
            check,
            self.test_checks,
            self.steps_per_epoch,
        )
        total = fit if self.max_steps is None else min(fit, self.max_steps)
        if total != self.schedule.total_steps:
            self.schedule.replan(done, total)
        if self.logged is None or (total != self.logged and done % self.steps_per_epoch == 0):
            self.logged = total
            self.log(
                f"time budget {self.seconds / 60:.1f} min: {elapsed:.0f} s used after {done} "
                f"steps of {step:.2f} s (median), checks of {check:.1f} s, the test about "
                f"{self.test_checks * check:.0f} s: {total} steps in all "
                f"({total / self.steps_per_epoch:.1f} epochs)"
            )
        return total


def steps_in_budget(
    seconds: float, step: float, check: float, test_checks: float, steps_per_epoch: int
) -> int:
    """How many training steps of ``step`` seconds fit in ``seconds`` (what is left of a
    budget), after the test evaluation (``test_checks`` validation checks of ``check``
    seconds) and the run's last check (of an epoch it may end inside), with a check after
    every ``steps_per_epoch`` steps in between."""
    left = seconds - (test_checks + 1) * check
    return steps_that_fit(left, step, check, steps_per_epoch)
