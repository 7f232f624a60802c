"""TensorFlow.ipynb and cs231n/tf_utils.py.

TensorFlow is an optional extra: every test that needs it is skipped when it is not installed,
except the check that the rest of the kit never imports it. The notebook test executes
TensorFlow.ipynb in quick mode with papermill (about two minutes) and needs CIFAR-10.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from notebook_runs import execute_quick

pytestmark = pytest.mark.q5

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "TensorFlow.ipynb"
START = "# *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"

# The results each part reports, as printed by the notebook's `report`.
PARTS = {
    "Part I two-layer FC": "validation",
    "Part I three-layer ConvNet": "validation",
    "Part II two-layer FC": "validation",
    "Part II three-layer ConvNet (Nesterov)": "validation",
    "Part III two-layer FC": "validation",
    "Part III two-layer FC with compile/fit": "validation",
    "Part III three-layer ConvNet": "validation",
    "Part IV two-layer FC": "validation",
    "Part V own model": "test",
}


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def tfu(tf):
    from cs231n import tf_utils

    return tf_utils


def _seed(a: int, b: int = 0):
    import tensorflow as tf

    return tf.constant([a, b], dtype=tf.int64)


# ---------------------------------------------------------------- the rest of the kit stays TF-free


def test_kit_imports_without_tensorflow() -> None:
    """Importing cs231n and every submodule but tf_utils and reference_models_tf leaves TensorFlow
    unimported."""
    script = """
import importlib, pkgutil, sys
import cs231n
names = [m.name for m in pkgutil.walk_packages(cs231n.__path__, "cs231n.")]
names = [n for n in names if n not in ("cs231n.tf_utils", "cs231n.reference_models_tf")]
assert "cs231n.data_utils" in names and "cs231n.layers" in names, names
for name in names:
    importlib.import_module(name)
    assert "tensorflow" not in sys.modules, f"importing {name} imported tensorflow"
    assert "keras" not in sys.modules, f"importing {name} imported keras"
print(len(names))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) >= 5


# ------------------------------------------------------------------------------ tf_utils


def test_channel_stats_and_normalize(tfu, rng) -> None:
    x = rng.uniform(0, 255, size=(20, 4, 5, 3)).astype(np.float32)
    before = x.copy()
    mean, std = tfu.channel_stats(x)
    assert mean.shape == std.shape == (3,) and mean.dtype == std.dtype == np.float32
    np.testing.assert_allclose(mean, x.reshape(-1, 3).mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(std, x.reshape(-1, 3).std(axis=0), rtol=1e-5)
    z = tfu.normalize(x, mean, std)
    assert z.dtype == np.float32 and z.shape == x.shape
    np.testing.assert_allclose(z.reshape(-1, 3).mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.reshape(-1, 3).std(axis=0), 1.0, rtol=1e-4)
    np.testing.assert_allclose(z[3, 2, 1], (x[3, 2, 1] - mean) / std, rtol=1e-5)
    np.testing.assert_array_equal(x, before)


def test_normalize_rejects_bad_arguments(tfu) -> None:
    x = np.zeros((2, 4, 4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="mean must have shape"):
        tfu.normalize(x, np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match="std must be positive"):
        tfu.normalize(x, np.zeros(3), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="x must be a 4-D array"):
        tfu.channel_stats(x[0])


def test_pick_device(tf, tfu) -> None:
    expected = "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"
    assert tfu.pick_device() == expected


def _windows(image: np.ndarray, pad: int) -> list[tuple[int, int, bool, np.ndarray]]:
    """Every (dy, dx, flipped, crop) random_crop_flip could return for one (H, W, C) image."""
    h, w, _ = image.shape
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    found = []
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[dy : dy + h, dx : dx + w]
            found += [(dy, dx, False, crop), (dy, dx, True, crop[:, ::-1])]
    return found


@pytest.mark.parametrize("shape,pad", [((300, 5, 7, 2), 1), ((40, 6, 6, 3), 2)])
def test_random_crop_flip_is_a_padded_window(tfu, rng, shape, pad) -> None:
    """Each output is one crop of the zero-padded image, mirrored or not, and all occur."""
    x = rng.uniform(1, 2, size=shape).astype(np.float32)  # no zeros: crops are unambiguous
    out = tfu.random_crop_flip(x, _seed(7), pad=pad).numpy()
    assert out.shape == x.shape and out.dtype == np.float32
    seen = set()
    for image, result in zip(x, out, strict=True):
        matches = [
            (dy, dx, f) for dy, dx, f, crop in _windows(image, pad) if np.array_equal(crop, result)
        ]
        assert len(matches) == 1, "output is not a (unique) window of the padded image"
        seen.add(matches[0])
    if shape[0] >= 300:  # 2 * (2*pad + 1)**2 = 18 outcomes, each with probability 1/18
        assert len(seen) == 2 * (2 * pad + 1) ** 2


def test_random_crop_flip_without_padding_only_flips(tfu, rng) -> None:
    x = rng.normal(size=(64, 4, 6, 3)).astype(np.float32)
    before = x.copy()
    out = tfu.random_crop_flip(x, _seed(3), pad=0).numpy()
    same = np.all(out == x, axis=(1, 2, 3))
    mirrored = np.all(out == x[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same ^ mirrored)
    assert 10 < mirrored.sum() < 54  # about half, binomial(64, 1/2)
    np.testing.assert_array_equal(x, before)


def test_random_crop_flip_is_seeded(tfu, rng) -> None:
    x = rng.normal(size=(32, 8, 8, 3)).astype(np.float32)
    a = tfu.random_crop_flip(x, _seed(1)).numpy()
    np.testing.assert_array_equal(a, tfu.random_crop_flip(x, _seed(1)).numpy())
    assert not np.array_equal(a, tfu.random_crop_flip(x, _seed(2)).numpy())


def test_random_crop_flip_rejects_bad_arguments(tfu) -> None:
    with pytest.raises(ValueError, match="images must be a 4-D tensor"):
        tfu.random_crop_flip(np.zeros((4, 4, 3), np.float32), _seed(0))
    with pytest.raises(ValueError, match="pad must be an integer >= 0"):
        tfu.random_crop_flip(np.zeros((1, 4, 4, 3), np.float32), _seed(0), pad=-1)


def _epoch(ds) -> tuple[list[np.ndarray], list[np.ndarray]]:
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return list(xs), list(ys)


def test_make_dataset_in_order(tfu, rng) -> None:
    x = rng.normal(size=(23, 4, 4, 3)).astype(np.float32)
    y = rng.integers(0, 10, size=23)
    xs, ys = _epoch(tfu.make_dataset(x, y, 5))
    assert [len(b) for b in ys] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate(xs), x)
    np.testing.assert_array_equal(np.concatenate(ys), y)


def test_make_dataset_covers_data_once_per_pass(tfu, rng) -> None:
    """Shuffled and augmented: each example once per pass, a new order each pass, and every
    image still travels with its own label."""
    n = 50
    ids = np.arange(n)
    # image i is the constant i + 1, so after a zero-padded crop every non-zero pixel names it
    x = np.broadcast_to((ids + 1.0)[:, None, None, None], (n, 6, 6, 2)).astype(np.float32)
    ds = tfu.make_dataset(x, ids, 8, shuffle=True, augment=True, pad=2, seed=5)
    orders = []
    for _ in range(2):
        xs, ys = _epoch(ds)
        order = np.concatenate(ys)
        np.testing.assert_array_equal(np.sort(order), ids)
        for images, labels in zip(xs, ys, strict=True):
            assert images.shape[1:] == (6, 6, 2)
            for image, label in zip(images, labels, strict=True):
                assert set(np.unique(image)) <= {0.0, label + 1.0} and image.max() == label + 1
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], ids)


def test_make_dataset_is_seeded(tfu, rng) -> None:
    x = rng.normal(size=(40, 8, 8, 3)).astype(np.float32)
    y = np.arange(40)

    def first_pass(seed: int):
        return _epoch(tfu.make_dataset(x, y, 16, shuffle=True, augment=True, seed=seed))

    (xa, ya), (xb, yb), (xc, _) = first_pass(1), first_pass(1), first_pass(2)
    np.testing.assert_array_equal(np.concatenate(xa), np.concatenate(xb))
    np.testing.assert_array_equal(np.concatenate(ya), np.concatenate(yb))
    assert not np.array_equal(np.concatenate(xa), np.concatenate(xc))


def test_make_dataset_rejects_bad_arguments(tfu) -> None:
    x = np.zeros((6, 4, 4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"y must have shape \(6,\)"):
        tfu.make_dataset(x, np.zeros(5, dtype=int), 2)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        tfu.make_dataset(x, np.zeros(6, dtype=int), 0)
    with pytest.raises(ValueError, match="x must be a 4-D array"):
        tfu.make_dataset(x[0], np.zeros(4, dtype=int), 2)


# ---------------------------------------------------------------- the Part V reference model


def test_part5_model_maps_images_to_scores(tf) -> None:
    from cs231n.reference_models_tf import part5_model

    model = part5_model(widths=(4, 8, 8), num_classes=10)
    scores = model(tf.zeros((2, 32, 32, 3)), training=False)
    assert tuple(scores.shape) == (2, 10) and scores.dtype == tf.float32
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [layer.filters for layer in convs] == [4, 4, 8, 8, 8, 8]


def test_warmup_cosine_schedule() -> None:
    from cs231n.reference_models_budget import TimeBudget  # noqa: F401  (TF-free)

    rmtf = pytest.importorskip("cs231n.reference_models_tf")
    f = rmtf.WarmupCosine(100, warmup=0.2, start_factor=0.05)
    values = [f(step) for step in range(101)]
    assert values[0] == pytest.approx(0.05) and values[20] == pytest.approx(1.0)
    assert values[60] == pytest.approx(0.5) and values[100] == pytest.approx(0.0)
    assert all(a >= b for a, b in zip(values[20:-1], values[21:], strict=True))
    f.total_steps = 50  # a shorter run: the schedule reaches 0 sooner
    assert f.peak == 10 and f(50) == pytest.approx(0.0)


def test_part5_precision_follows_the_cpu(tf, monkeypatch) -> None:
    from cs231n import _cpu
    from cs231n import reference_models_tf as rmtf

    monkeypatch.setattr(_cpu, "cpu_flags", lambda: {"avx2", "fma"})
    assert rmtf.part5_precision("/CPU:0")[0] == "float32"
    monkeypatch.setattr(_cpu, "cpu_flags", lambda: {"avx2", "avx512_bf16", "amx_bf16"})
    policy, why = rmtf.part5_precision("/CPU:0")
    assert policy == "mixed_bfloat16" and "avx512_bf16" in why
    assert rmtf.part5_precision("/GPU:0")[0] == "mixed_bfloat16"


def test_budget_callback_sets_the_rate_and_stops_the_fit(tf, monkeypatch) -> None:
    """A fit of 10 epochs of 5 steps on a fake clock (1 s a step, 2 s a check), in a budget of
    30 s with 2 checks' worth of test: it stops inside the budget, with the rate at 0."""
    import keras

    from cs231n import reference_models_budget as rb
    from cs231n import reference_models_tf as rmtf

    now = [0.0]
    monkeypatch.setattr(rb.time, "perf_counter", lambda: now[0])

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            now[0] += 1.0

        def on_test_end(self, logs=None):
            now[0] += 2.0

    schedule = rmtf.WarmupCosine(50, warmup=0.2, start_factor=0.05)
    budget = rb.TimeBudget(30.0, 0.0, schedule, 5, 2.0, 1.0, max_steps=50, log=lambda _: None)
    rates = []
    driver = rmtf.BudgetCallback(schedule, 0.2, budget)
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: rates.append(float(model.optimizer.learning_rate))
    )
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    x, y = np.zeros((10, 3), np.float32), np.zeros((10, 2), np.float32)
    fit = model.fit(
        x, y, batch_size=2, epochs=10, validation_data=(x, y), verbose=0,
        callbacks=[Clock(), driver, record],
    )  # fmt: skip
    assert 25.0 <= now[0] + 2 * 2.0 <= 30.0  # the test's 2 checks fit too
    assert driver.done == schedule.total_steps < 50 and len(fit.history["loss"]) < 10
    assert rates[0] == pytest.approx(0.2 * 0.05) and max(rates) == pytest.approx(0.2, rel=0.1)


# ------------------------------------------------------------------------------ the notebook


def _cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text())["cells"]


def test_notebook_is_committed_clean() -> None:
    """No outputs; a first code cell tagged `parameters` with QUICK = False; answers present."""
    cells = _cells()
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert "".join(code[0]["source"]).strip() == "QUICK = False"
    answers = [c for c in cells if "".join(c["source"]).startswith("**Your Answer:**")]
    assert len(answers) >= 3 and all(c["cell_type"] == "markdown" for c in answers)
    assert all("TODO" not in "".join(c["source"]) for c in answers)
    assert sum(START in "".join(c["source"]) for c in code) >= 6


@pytest.fixture(scope="module")
def executed(tmp_path_factory, tf) -> tuple[list[dict], str]:
    """TensorFlow.ipynb run in quick mode: (cells, all printed text)."""
    return execute_quick(NOTEBOOK.name, tmp_path_factory)


@pytest.mark.slow
def test_notebook_quick_mode_reports_every_part(executed) -> None:
    cells, text = executed
    injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and "QUICK = True" in "".join(injected[0]["source"])
    assert "computing on /" in text and "quick mode" in text
    assert re.search(r"^saved TensorFlow_model.keras \(\d+\.\d MiB\) for the grader", text, re.M)
    for part, split in PARTS.items():
        found = re.findall(
            rf"\[{re.escape(part)}\] {split} accuracy (\d+\.\d\d)% \(target > \d+%\)", text
        )
        assert len(found) == 1, f"{part}: no (or more than one) accuracy line"
        assert 0.0 <= float(found[0]) <= 100.0
    assert re.search(r"Part V: test accuracy \d+\.\d\d% in \d+\.\d min", text)
    assert "Summary" in text
    # fit's per-epoch progress (Keras prints "Epoch k/n" only when n > 1: quick mode trains one)
    assert re.search(r"^\d+/\d+ - \d+s - .*loss: \d", text, re.M)


@pytest.mark.slow
def test_notebook_quick_mode_plots_each_training_run(executed) -> None:
    cells, _ = executed
    pngs = sum(
        "image/png" in out.get("data", {})
        for cell in cells
        if cell["cell_type"] == "code"
        for out in cell["outputs"]
    )
    # augmentation preview, seven training-loop curves, Part V curves
    assert pngs >= 9
    errors = [
        out for cell in cells for out in cell.get("outputs", []) if out["output_type"] == "error"
    ]
    assert not errors


@pytest.mark.parametrize(
    ("device", "flags", "gflops", "goal"),
    [("/GPU:0", set(), 1.0, 0.85), ("/CPU:0", {"amx_bf16"}, 1.0, 0.85),
     ("/CPU:0", {"avx2"}, 150.0, 0.78), ("/CPU:0", {"avx2"}, 70.0, 0.74)],
)  # fmt: skip
def test_part5_goal_follows_the_machine_class(
    tfu, device, flags, gflops, goal, monkeypatch
) -> None:
    from cs231n import _cpu

    monkeypatch.setattr(_cpu, "cpu_flags", lambda info=None: flags)
    monkeypatch.setattr(_cpu, "float32_gflops", lambda: gflops)
    got, why = tfu.part5_goal(device)
    assert got == goal, why
