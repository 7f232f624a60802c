"""Q5 verified: the grader evaluates the model a framework notebook saved, in the sandbox.

The accuracy a notebook prints is a claim (notebooks.py reads it); the points come from the
accuracy the grader measures. Each framework notebook's last cell of its own-model part saves
the trained model in the kit's top folder with a helper of ours, so that the file holds the
whole of the preprocessing and no pickled Python:

- ``PyTorch_model.pt`` (``cs231n.torch_utils.save_model``): TorchScript, loaded with
  ``torch.jit.load``; it takes uint8 images ``(N, 3, 32, 32)`` and returns scores ``(N, 10)``.
- ``TensorFlow_model.keras`` (``cs231n.tf_utils.save_model``): a Keras model, loaded in safe
  mode (no Lambda layers, no custom classes); it takes uint8 images ``(N, 32, 32, 3)`` and
  returns scores ``(N, 10)``.

The grader never loads a model in its own process: ``model_worker.py`` does, in the sandbox of
the Q1-Q4 worker (no network, read-only mounts, the same memory bound), under bounds of its
own: the file's size (``MAX_MODEL_BYTES``) and the wall time of each image set
(``Limits.model_seconds``). A model that passes one fails clearly and costs only Q5's accuracy
points. The worker sees the images only; the grader holds the labels and counts the
predictions that match.

Image sets: the CIFAR-10 test set (10,000 images, read with the kit's data loader:
``$CS231N_CIFAR10``), and a held-out set of the course's when given (``--q5-test-set PATH``):
an ``.npz`` of ``images``, uint8 ``(N, 32, 32, 3)`` (CIFAR-10's own layout, as CIFAR-10.1's
``.npy`` files are), and ``labels``, integers ``(N,)`` in 0..9 in CIFAR-10's class order.

Points: ``RUN_POINTS`` when the notebook ran, plus ``ACCURACY_POINTS`` scaled linearly from
chance (``CHANCE``: none) to ``FULL_ACCURACY`` (all) by the measured CIFAR-10 test accuracy.
The better of the two notebooks counts. Flags for course staff (the table, the CSV, the class
report, results.json's ``extra_data``): a claim that differs from the measurement by more
than ``CLAIM_TOLERANCE``, a claim with nothing measured, and a model that does better on the
CIFAR-10 test set than on the held-out set by more than ``HELDOUT_GAP`` (trained on it?).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tools import collect_submission
from tools.grade import notebooks, sandbox
from tools.grade.cases import CaseResult

HERE = Path(__file__).resolve().parent
LOADERS = {"PyTorch.ipynb": "torch", "TensorFlow.ipynb": "keras"}  # model_worker.PREDICTORS
MODEL_FILES = {nb: (name, LOADERS[nb]) for nb, name in collect_submission.MODEL_FILES.items()}
LOADER_MODULES = {"torch": "torch", "keras": "keras"}  # what each loader imports
MAX_MODEL_BYTES = 50 * 2**20
CHANCE = 0.10  # ten classes: no accuracy points at or below
CLAIM_TOLERANCE = 0.02  # |claimed - measured| beyond this is flagged (TTA, bf16: well within)
HELDOUT_GAP = 0.10  # test accuracy above held-out accuracy by more than this is flagged
TEST, HELDOUT = "CIFAR-10 test", "held-out"
IMAGE_SHAPE = (32, 32, 3)


# ------------------------------------------------------------------------------ image sets


@dataclass
class ImageSets:
    """The labelled images a model is evaluated on, by set name: uint8 ``(N, 32, 32, 3)``
    images and int64 ``(N,)`` labels. The images are packed once for all submissions."""

    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    loaders: frozenset[str] = frozenset()  # the model loaders this grader's Python can run
    _packed: bytes | None = field(default=None, repr=False)

    @classmethod
    def load(cls, heldout: Path | None = None, cifar10_dir: Path | None = None) -> ImageSets:
        """The CIFAR-10 test set (the kit's loader), and the held-out set at ``heldout``."""
        from cs231n.data_utils import TEST_FILE, load_CIFAR_batch, resolve_cifar10_dir

        x, y = load_CIFAR_batch(resolve_cifar10_dir(cifar10_dir) / TEST_FILE)
        found = {k for k, module in LOADER_MODULES.items() if importlib.util.find_spec(module)}
        sets = cls({TEST: x.astype(np.uint8)}, {TEST: y.astype(np.int64)}, frozenset(found))
        if heldout is not None:
            sets.images[HELDOUT], sets.labels[HELDOUT] = load_heldout(heldout)
        return sets

    def write_images(self, path: Path) -> None:
        """The images only (never the labels), as one ``.npz`` keyed by set name."""
        if self._packed is None:
            import io

            buffer = io.BytesIO()
            np.savez(buffer, **self.images)
            self._packed = buffer.getvalue()
        path.write_bytes(self._packed)


def load_heldout(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``images`` uint8 ``(N, 32, 32, 3)`` and ``labels`` int64 ``(N,)`` of a held-out
    ``.npz``; ValueError naming the file and what is wrong."""
    where = f"--q5-test-set {path}"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in ("images", "labels") if key in data.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{where}: not a readable .npz ({exc})") from None
    if set(arrays) != {"images", "labels"}:
        raise ValueError(f"{where}: must hold arrays 'images' and 'labels', has {sorted(arrays)}")
    images, labels = arrays["images"], arrays["labels"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{where}: images must be uint8 (N, 32, 32, 3), got {images.dtype} {images.shape}"
        )
    if labels.shape != (len(images),) or labels.dtype.kind not in "iu" or len(images) == 0:
        raise ValueError(
            f"{where}: labels must be integers ({len(images)},), got {labels.dtype} {labels.shape}"
        )
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{where}: labels must lie in 0..9, got {labels.min()}..{labels.max()}")
    return images, labels.astype(np.int64)


# -------------------------------------------------------------------------- measurement


def _model_problem(path: Path) -> str | None:
    """Why ``path`` cannot be evaluated before it is run (missing, not a file, too large)."""
    try:
        info = path.lstat()
    except OSError:
        return "missing"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_size > MAX_MODEL_BYTES:
        return (
            f"{info.st_size / 2**20:.1f} MiB, more than the {MAX_MODEL_BYTES >> 20} MiB "
            "a model may take"
        )
    return None


def measure(model: Path, loader: str, root: Path, sets: ImageSets, limits, tmp: Path) -> dict:
    """The accuracy of ``model`` on each image set, measured in the sandbox, or why not:
    ``{"accuracy": {set: fraction}, "error": str, "seconds": float}``."""
    from tools.grade import runner  # runner imports this module

    start = time.monotonic()
    problem = _model_problem(model)
    if problem:
        return {"accuracy": {}, "error": f"{model.name} is {problem}", "seconds": 0.0}
    runtime, workdir = tmp / "q5-runtime", tmp / "q5-work"
    shutil.rmtree(runtime, ignore_errors=True)
    runtime.mkdir(parents=True)
    for name in ("model_worker.py", "worker.py", "channel.py"):
        shutil.copyfile(HERE / name, runtime / name)
    sets.write_images(runtime / "images.npz")
    names = list(sets.images)
    plan = sandbox.plan()
    job = {
        "model": str(model),
        "framework": loader,
        "threads": limits.model_threads,
        "site": sandbox.site_paths(),
        "read": runner.read_paths(root) + [str(runtime)],
        "limits": {
            "cpu_seconds": int(limits.model_seconds * limits.model_threads * len(names)) + 60,
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            **plan.limits(limits.processes),
        },
        "max_payload": {s: 8 * len(sets.labels[s]) + 4096 for s in names},
        "todo": names,
    }
    timed = dataclasses.replace(limits, case_seconds=limits.model_seconds)
    deadline = time.monotonic() + limits.model_seconds * len(names) + 30
    with sandbox.slot(plan) as uid:
        outcome = runner.run_worker(
            job, (runtime, workdir, root), timed, uid, deadline, "model_worker.py"
        )
    result = {"accuracy": {}, "error": "", "seconds": time.monotonic() - start}
    for name in names:
        report = outcome.reports.get(name)
        if report is None:
            why = outcome.why if outcome.culprit else runner.log_tail(outcome.log)
            result["error"] = f"{model.name}: {name} set: {why}"
            break
        labels = report["outputs"].get("labels")
        if report["error"] or labels is None or labels.shape != sets.labels[name].shape:
            result["error"] = f"{model.name}: {report['error'] or 'no labels of the right shape'}"
            break
        result["accuracy"][name] = float(np.mean(labels == sets.labels[name]))
    return result


# ------------------------------------------------------------------------------- scoring


@dataclass
class Check:
    """Q5 of one framework notebook: the claim, the measurement, the points, the flags."""

    notebook: str
    points: float = 0.0
    note: str = ""
    claimed: float | None = None
    measured: dict[str, float] = field(default_factory=dict)  # set name -> accuracy
    flags: list[str] = field(default_factory=list)  # for course staff
    seconds: float = 0.0  # the model's evaluation


def accuracy_points(accuracy: float) -> float:
    """``ACCURACY_POINTS`` scaled linearly from ``CHANCE`` (none) to ``FULL_ACCURACY``."""
    share = (accuracy - CHANCE) / (notebooks.FULL_ACCURACY - CHANCE)
    return notebooks.ACCURACY_POINTS * min(1.0, max(0.0, share))


def flags(claimed: float | None, measured: dict[str, float], error: str) -> list[str]:
    """What course staff should look at: a claim the measurement does not bear out, a claim
    with nothing measured, a model that knows the test set better than the held-out set."""
    found = []
    test, held = measured.get(TEST), measured.get(HELDOUT)
    if claimed is not None and test is None:
        why = " ".join(error.split())[:200]
        found.append(f"claimed {claimed:.1%}, nothing measured ({why}): check by hand")
    elif claimed is not None and abs(claimed - test) > CLAIM_TOLERANCE:
        found.append(f"claimed {claimed:.1%}, measured {test:.1%}: check by hand")
    if test is not None and held is not None and test - held > HELDOUT_GAP:
        found.append(
            f"{test:.1%} on the CIFAR-10 test set but {held:.1%} on the held-out set: "
            "trained on the test set?"
        )
    return found


def check_notebook(root: Path, name: str, sets: ImageSets | None, limits, tmp: Path) -> Check:
    """Read ``name``'s claim and, when it ran, evaluate its model (``sets`` None: not here)."""
    claim = notebooks.read_claim(root / name)
    check = Check(name, claimed=claim.accuracy)
    if not claim.ran:
        check.note = claim.note
        return check
    check.points = notebooks.RUN_POINTS
    model_file, loader = MODEL_FILES[name]
    said = f" (it prints {claim.accuracy:.2%})" if claim.accuracy is not None else ""
    if sets is None or loader not in sets.loaders:
        check.note = (
            f"{name}: run; {model_file} is evaluated by the course staff, who give the "
            f"accuracy points{said}"
        )
        return check
    if not (root / model_file).exists() and not (root / model_file).is_symlink():
        check.note = (
            f"{name}: no {model_file} in the submission: the last cell of the notebook's "
            f"own-model part saves it; run it and collectSubmission.sh again{said}"
        )
        check.flags = flags(claim.accuracy, {}, f"no {model_file}")
        return check
    got = measure(root / model_file, loader, root, sets, limits, tmp)
    check.measured, check.seconds = got["accuracy"], got["seconds"]
    check.flags = flags(claim.accuracy, check.measured, got["error"])
    if got["error"]:
        why = " ".join(got["error"].split())  # one line (a TorchScript traceback has many)
        check.note = f"{name}: the model could not be evaluated: {why}"[:600]
        return check
    test = check.measured[TEST]
    check.points = round(check.points + accuracy_points(test), 2)
    check.note = f"{name}: {model_file} scores {test:.2%} on the CIFAR-10 test set{said}"
    if HELDOUT in check.measured:
        check.note += f", {check.measured[HELDOUT]:.2%} on the held-out set"
    if test < notebooks.FULL_ACCURACY:
        check.note += f"; full credit needs {notebooks.FULL_ACCURACY:.0%}"
    return check


def grade_q5(
    root: Path, sets: ImageSets | None, limits, tmp: Path
) -> tuple[CaseResult, list[Check]]:
    """Q5's CaseResult (the better notebook) and the check of each framework notebook."""
    checks = [_check_alone(root, name, sets, limits, tmp) for name in MODEL_FILES]
    best = max(checks, key=lambda c: c.points)
    case = notebooks.Q5_CASE
    if best.points >= case.points:
        return CaseResult(case, case.points, ""), checks
    others = "; ".join(c.note for c in checks if c is not best and c.note)
    return CaseResult(case, best.points, best.note + (f" ({others})" if others else "")), checks


def _check_alone(root: Path, name: str, sets: ImageSets | None, limits, tmp: Path) -> Check:
    """``check_notebook``, whose failure costs only this notebook's points."""
    try:
        return check_notebook(root, name, sets, limits, tmp)
    except Exception as exc:  # MemoryError, a broken file system: this notebook only
        return Check(name, note=f"{name} could not be checked ({type(exc).__name__})")


def summary(checks: list[Check]) -> dict:
    """Results' Q5 record: the counted notebook's claim and measurements, every flag."""
    best = max(checks, key=lambda c: c.points) if checks else Check("")
    return {
        "notebook": best.notebook,
        "claimed": best.claimed,
        "measured": best.measured.get(TEST),
        "heldout": best.measured.get(HELDOUT),
        "seconds": round(sum(c.seconds for c in checks), 1),
        "flags": [f"{c.notebook}: {flag}" for c in checks for flag in c.flags],
    }
