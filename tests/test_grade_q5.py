"""Q5 verified (tools/grade/q5.py): the printed accuracy is a claim, the model is evaluated.

Most tests evaluate models in the grader's sandbox on a synthetic image set that a linear
model learns in a second (``stripe_images``), so that they need no CIFAR-10: a forged claim
with an untrained model earns no accuracy points and is flagged, the same notebook with a
trained model earns them, a model that memorized the test set is flagged by a held-out set,
and a model that is not TorchScript, too large or too slow fails clearly, costing only Q5's
accuracy points. One slow test does the same on the real CIFAR-10 test set.
"""

from __future__ import annotations

import csv
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grade_fixtures import memorizer, stripe_images, trained_model  # noqa: E402
from test_grade import executed_notebook  # noqa: E402

from cs231n import torch_utils as tu  # noqa: E402
from tools import collect_submission  # noqa: E402
from tools.grade import class_report, notebooks, q5, report, runner  # noqa: E402

LIMITS = runner.Limits(model_seconds=60.0)
RUN, FULL = notebooks.RUN_POINTS, notebooks.Q5_CASE.points


@pytest.fixture(scope="module")
def stripes() -> q5.ImageSets:
    images, labels = stripe_images(600, seed=1)
    return q5.ImageSets({q5.TEST: images}, {q5.TEST: labels}, frozenset({"torch"}))


def with_heldout(sets: q5.ImageSets, images, labels) -> q5.ImageSets:
    return q5.ImageSets(
        {**sets.images, q5.HELDOUT: images}, {**sets.labels, q5.HELDOUT: labels}, sets.loaders
    )


def pytorch_submission(root: Path, claim: str, model=None) -> Path:
    """A submission folder with an executed PyTorch.ipynb printing ``claim`` and, when given,
    ``model`` saved as the notebook's last cell saves it."""
    root.mkdir(parents=True)
    executed_notebook(root / "PyTorch.ipynb", claim)
    if model is not None:
        tu.save_model(model, path=root / "PyTorch_model.pt")
    return root


def check(root: Path, sets: q5.ImageSets, tmp: Path, limits=LIMITS) -> tuple:
    result, checks = q5.grade_q5(root, sets, limits, tmp)
    return result, q5.summary(checks)


# ----------------------------------------------------------------------- claims and models


def test_a_forged_claim_with_an_untrained_model_earns_no_accuracy_points(tmp_path, stripes):
    torch.manual_seed(0)
    untrained = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    root = pytorch_submission(tmp_path / "s", "Part IV test acc: 0.9500 on 10000 images", untrained)
    result, summary = check(root, stripes, tmp_path / "t")
    assert summary["claimed"] == 0.95 and summary["measured"] < 0.2, summary
    assert result.earned < RUN + 0.5, result.feedback
    assert any("claimed 95.0%, measured" in f and "check by hand" in f for f in summary["flags"])


def test_the_same_notebook_with_a_trained_model_earns_them(tmp_path, stripes):
    model = trained_model(*stripe_images(2000, seed=2))
    root = pytorch_submission(tmp_path / "s", "Part IV test acc: 0.9950 on 10000 images", model)
    result, summary = check(root, stripes, tmp_path / "t")
    assert summary["measured"] > 0.98, summary
    assert result.earned == FULL and not summary["flags"], (result.feedback, summary)


def test_a_held_out_set_flags_a_model_trained_on_the_test_set(tmp_path, stripes):
    test_images, test_labels = stripes.images[q5.TEST], stripes.labels[q5.TEST]
    root = pytorch_submission(
        tmp_path / "s", "Part IV test acc: 1.0000", memorizer(test_images, test_labels)
    )
    shifted = with_heldout(stripes, *stripe_images(600, seed=3))
    _, summary = check(root, shifted, tmp_path / "t")
    assert summary["measured"] == 1.0 and summary["heldout"] < 0.2, summary
    assert any("trained on the test set?" in f for f in summary["flags"]), summary
    same = with_heldout(stripes, test_images, test_labels)  # held-out = test: nothing to see
    _, summary = check(root, same, tmp_path / "t2")
    assert summary["heldout"] == 1.0 and not summary["flags"], summary


def test_a_trained_model_is_not_flagged_by_a_held_out_set(tmp_path, stripes):
    model = trained_model(*stripe_images(2000, seed=2))
    root = pytorch_submission(tmp_path / "s", "Part IV test acc: 0.9950", model)
    _, summary = check(root, with_heldout(stripes, *stripe_images(600, seed=3)), tmp_path / "t")
    assert summary["heldout"] > 0.98 and not summary["flags"], summary


# -------------------------------------------------------------------- bounds, clear failures


def _assert_fails_clearly(result, summary, *needles: str) -> None:
    assert result.earned == RUN, result.feedback  # only the accuracy points are lost
    assert summary["measured"] is None, summary
    for needle in needles:
        assert needle in result.feedback, result.feedback


def test_a_pickled_model_is_not_loaded_and_fails_clearly(tmp_path, stripes):
    root = pytorch_submission(tmp_path / "s", "Part IV test acc: 0.9")
    torch.save(trained_model(*stripe_images(200, seed=2), steps=1), root / "PyTorch_model.pt")
    result, summary = check(root, stripes, tmp_path / "t")
    _assert_fails_clearly(result, summary, "could not be evaluated", "does not load")
    assert any("nothing measured" in f for f in summary["flags"]), summary
    (root / "PyTorch_model.pt").write_bytes(b"not a model at all")
    _assert_fails_clearly(*check(root, stripes, tmp_path / "t2"), "does not load")


def test_a_model_over_the_size_bound_fails_clearly(tmp_path, stripes, monkeypatch):
    model = trained_model(*stripe_images(200, seed=2), steps=1)
    root = pytorch_submission(tmp_path / "s", "Part IV test acc: 0.9", model)
    monkeypatch.setattr(q5, "MAX_MODEL_BYTES", 2**10)
    result, summary = check(root, stripes, tmp_path / "t")
    _assert_fails_clearly(result, summary, "MiB, more than the 0 MiB a model may take")


def test_a_linked_model_is_never_opened(tmp_path, stripes):
    root = pytorch_submission(tmp_path / "s", "Part IV test acc: 0.9")
    (root / "PyTorch_model.pt").symlink_to("/etc/passwd")
    _assert_fails_clearly(*check(root, stripes, tmp_path / "t"), "is not a regular file")


class _Endless(torch.nn.Module):
    def forward(self, x):
        total, steps = torch.zeros(x.shape[0], 10), 0
        while steps < 1_000_000_000:
            total, steps = total + 1.0, steps + 1
        return total


def test_a_slow_model_times_out_clearly(tmp_path, stripes):
    root = pytorch_submission(tmp_path / "s", "Part IV test acc: 0.9")
    torch.jit.save(torch.jit.script(_Endless()), str(root / "PyTorch_model.pt"))
    limits = runner.Limits(model_seconds=4.0)
    result, summary = check(root, stripes, tmp_path / "t", limits)
    _assert_fails_clearly(result, summary, "timed out after 4 s")


def test_scores_of_the_wrong_shape_fail_clearly(tmp_path, stripes):
    root = pytorch_submission(tmp_path / "s", "Part IV test acc: 0.9")
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 7))
    tu.save_model(flat, path=root / "PyTorch_model.pt")
    result, summary = check(root, stripes, tmp_path / "t")
    _assert_fails_clearly(result, summary, "expected scores (250, 10)")


def test_no_model_costs_the_accuracy_points_with_the_fix(tmp_path, stripes):
    root = pytorch_submission(tmp_path / "s", "Part IV test acc: 0.9")
    result, summary = check(root, stripes, tmp_path / "t")
    assert result.earned == RUN and "no PyTorch_model.pt" in result.feedback, result.feedback
    assert "collectSubmission.sh" in result.feedback
    assert any("claimed 90.0%, nothing measured" in f for f in summary["flags"]), summary


def test_without_image_sets_the_staff_evaluate_the_model(tmp_path):
    root = pytorch_submission(tmp_path / "s", "Part IV test acc: 0.9")
    result, _ = q5.grade_q5(root, None, LIMITS, tmp_path / "t")
    assert result.earned == RUN and "evaluated by the course staff" in result.feedback


# ------------------------------------------------------------------ held-out set, claims


def test_a_held_out_file_is_checked_with_clear_errors(tmp_path):
    images, labels = stripe_images(20, seed=4)
    good = tmp_path / "held.npz"
    np.savez(good, images=images, labels=labels)
    got_images, got_labels = q5.load_heldout(good)
    assert got_images.shape == (20, 32, 32, 3) and got_labels.dtype == np.int64
    for name, arrays, needle in [
        ("missing.npz", {"images": images}, "must hold arrays 'images' and 'labels'"),
        ("float.npz", {"images": images / 1.0, "labels": labels}, "must be uint8 (N, 32, 32, 3)"),
        ("nchw.npz", {"images": images.transpose(0, 3, 1, 2), "labels": labels}, "uint8 (N, 32"),
        ("range.npz", {"images": images, "labels": labels + 5}, "must lie in 0..9"),
        ("short.npz", {"images": images, "labels": labels[:3]}, "must be integers (20,)"),
    ]:
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
            q5.load_heldout(tmp_path / name)
    (tmp_path / "text.npz").write_text("no")
    with pytest.raises(ValueError, match="--q5-test-set .*text.npz: not a readable .npz"):
        q5.load_heldout(tmp_path / "text.npz")


def test_claims_are_read_from_the_printed_text(tmp_path):
    executed_notebook(tmp_path / "TensorFlow.ipynb", "Part V: test accuracy 56.00% in 9.0 min")
    assert notebooks.read_claim(tmp_path / "TensorFlow.ipynb") == notebooks.Claim(True, 0.56)
    line = "[target] PyTorch own model test accuracy: 35.00% (target >= 89.00%): missed"
    executed_notebook(tmp_path / "PyTorch.ipynb", line)
    assert notebooks.read_claim(tmp_path / "PyTorch.ipynb").accuracy == 0.35
    executed_notebook(tmp_path / "PyTorch.ipynb", "Part IV test acc: 0.5000\n" + line)
    assert notebooks.read_claim(tmp_path / "PyTorch.ipynb").accuracy == 0.35  # the last one
    executed_notebook(tmp_path / "PyTorch.ipynb", "nothing printed")
    assert notebooks.read_claim(tmp_path / "PyTorch.ipynb") == notebooks.Claim(True, None)
    (tmp_path / "PyTorch.ipynb").write_text("{not json")
    assert not notebooks.read_claim(tmp_path / "PyTorch.ipynb").ran


def test_accuracy_points_run_from_chance_to_full_accuracy():
    assert q5.accuracy_points(0.10) == 0 and q5.accuracy_points(0.05) == 0
    assert q5.accuracy_points(0.40) == pytest.approx(notebooks.ACCURACY_POINTS / 2)
    assert q5.accuracy_points(notebooks.FULL_ACCURACY) == notebooks.ACCURACY_POINTS
    assert q5.accuracy_points(0.99) == notebooks.ACCURACY_POINTS


# ----------------------------------------------------------------- the grader, end to end


def test_the_reports_show_claimed_and_measured_side_by_side(tmp_path, stripes):
    torch.manual_seed(0)
    untrained = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    folder = pytorch_submission(tmp_path / "s", "Part IV test acc: 0.8950", untrained)
    zipped = tmp_path / "a2_code_submission.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for name in ("PyTorch.ipynb", "PyTorch_model.pt"):
            zf.write(folder / name, name)
        zf.writestr("cs231n/__init__.py", "")
    reference = runner.Reference(0, [])  # Q5 only
    result = runner.grade(zipped, reference, LIMITS, True, "forger", stripes)
    assert result.q5["claimed"] == 0.895 and result.q5["measured"] < 0.2, result.q5
    table = report.table(result)
    assert "Q5 check: PyTorch.ipynb claimed 89.50%, measured" in table, table
    assert "! for staff: PyTorch.ipynb: claimed 89.5%, measured" in table, table
    report.write_csv(tmp_path / "r.csv", [result])
    with open(tmp_path / "r.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["q5_claimed"] == "89.50" and "check by hand" in row["q5_flags"], row
    extra = report.gradescope(result)["extra_data"]["q5"]
    assert extra["claimed"] == 0.895 and "check by hand" in extra["flags"][0], extra
    page = class_report.write(tmp_path / "c.md", [result])[0].read_text()
    assert "Q5 models to check by hand: forger: PyTorch" in page.replace("\\", ""), page


def test_collect_puts_the_model_in_the_zip_and_says_so(tmp_path):
    root = tmp_path / "kit"
    root.mkdir()
    executed_notebook(root / "PyTorch.ipynb", "ran")
    carried, missing = collect_submission.model_notes(root, ["PyTorch.ipynb"])
    assert not carried and "PyTorch.ipynb ran but PyTorch_model.pt is missing" in missing[0]
    assert Path("PyTorch_model.pt") not in collect_submission.submission_files(root)
    (root / "PyTorch_model.pt").write_bytes(b"model")
    carried, missing = collect_submission.model_notes(root, ["PyTorch.ipynb"])
    assert carried == ["PyTorch_model.pt (PyTorch.ipynb's model, which the grader evaluates)"]
    assert not missing
    assert Path("PyTorch_model.pt") in collect_submission.submission_files(root)


# ------------------------------------------------------------------------- the helper


def test_save_model_keeps_the_scores_and_test_time_augmentation(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
        torch.nn.Linear(4 * 30 * 30, 10),
    )  # fmt: skip
    path = tu.save_model(model, tta=2, path=tmp_path / "m.pt")
    assert model.training  # the student's model is left as it was
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        expected = tu.tta_scores(model.eval(), images.float(), 2)
        assert torch.allclose(loaded(images), expected, atol=1e-5)


def test_save_model_refuses_a_model_its_trace_cannot_reproduce(tmp_path):
    def batch_bound(x):
        return torch.ones(int(x.shape[0]), 10) * x.mean()  # traced: a batch of 4, always

    with pytest.raises(ValueError, match="trace gives other scores than the model"):
        tu.save_model(batch_bound, path=tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


# ------------------------------------------------------------------------- real CIFAR-10


@pytest.mark.slow
def test_on_cifar10_a_briefly_trained_model_earns_what_it_measures(tmp_path):
    from cs231n.data_utils import TRAIN_FILES, load_CIFAR_batch, resolve_cifar10_dir

    folder = resolve_cifar10_dir()
    if not folder.is_dir():
        pytest.skip("CIFAR-10 not found (CS231N_CIFAR10)")
    sets = q5.ImageSets.load()
    x, y = load_CIFAR_batch(folder / TRAIN_FILES[0])
    model = trained_model(x[:5000].astype(np.uint8), y[:5000], steps=100)
    test = torch.from_numpy(sets.images[q5.TEST].transpose(0, 3, 1, 2).copy()).float()
    with torch.no_grad():
        own = (model(test).argmax(1).numpy() == sets.labels[q5.TEST]).mean()
    root = pytorch_submission(tmp_path / "s", f"Part IV test acc: {own:.4f}", model)
    result, summary = check(root, sets, tmp_path / "t")
    assert summary["measured"] == pytest.approx(own, abs=1e-3) and 0.2 < own < 0.5, summary
    assert result.earned == pytest.approx(RUN + q5.accuracy_points(own), abs=0.01)
    assert result.earned > RUN + 1 and not summary["flags"], summary
    forged = pytorch_submission(tmp_path / "f", "Part IV test acc: 0.9500", model)
    _, summary = check(forged, sets, tmp_path / "t2")
    assert any("claimed 95.0%, measured" in f for f in summary["flags"]), summary


# --------------------------------------------------------------------------- TensorFlow


def _keras_model(images, labels, epochs: int):
    """A linear Keras classifier of normalized images, trained for ``epochs`` (batches of 25);
    returns (model, mean, std)."""
    keras = pytest.importorskip("keras")
    from cs231n import tf_utils

    keras.utils.set_random_seed(0)
    mean, std = tf_utils.channel_stats(images)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])  # fmt: skip
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(True))
    x = tf_utils.normalize(images, mean, std)
    model.fit(x, labels, batch_size=25, epochs=epochs, verbose=0)
    return model, mean, std


@pytest.mark.slow  # TensorFlow starts twice: in this process and in the sandbox
@pytest.mark.parametrize("epochs, claim", [(1, "99.00%"), (0, "95.00%")])
def test_a_keras_model_is_evaluated_and_a_forged_claim_flagged(tmp_path, stripes, epochs, claim):
    from cs231n import tf_utils

    model, mean, std = _keras_model(*stripe_images(2000, seed=2), epochs=epochs)
    root = tmp_path / "s"
    root.mkdir()
    executed_notebook(root / "TensorFlow.ipynb", f"Part V: test accuracy {claim} in 9.0 min")
    tf_utils.save_model(model, mean, std, path=root / "TensorFlow_model.keras")
    sets = q5.ImageSets(stripes.images, stripes.labels, frozenset({"keras"}))
    result, summary = check(root, sets, tmp_path / "t")
    if epochs:
        assert summary["measured"] > 0.97 and result.earned == FULL, (result.feedback, summary)
        assert not summary["flags"], summary
    else:
        assert summary["measured"] < 0.3 and result.earned < RUN + 1.5, summary
        assert any("claimed 95.0%, measured" in f for f in summary["flags"]), summary


def test_keras_save_model_keeps_the_normalization_and_the_mirror_images(tmp_path):
    keras = pytest.importorskip("keras")
    from cs231n import tf_utils

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(2, 3),
                              keras.layers.Flatten(), keras.layers.Dense(10)])  # fmt: skip
    mean, std = np.array([120.0, 110.0, 100.0]), np.array([60.0, 50.0, 40.0])
    path = tf_utils.save_model(model, mean, std, path=tmp_path / "m.keras")
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    x = tf_utils.normalize(images, mean.astype(np.float32), std.astype(np.float32))
    expected = model(x) + model(x[:, :, ::-1])
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    np.testing.assert_allclose(loaded(images), expected, rtol=1e-4, atol=1e-4)


def test_a_subclassed_keras_model_is_refused_when_saved(tmp_path):
    keras = pytest.importorskip("keras")
    from cs231n import tf_utils

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.flatten, self.dense = keras.layers.Flatten(), keras.layers.Dense(10)

        def call(self, x):
            return self.dense(self.flatten(x))

    with pytest.raises(ValueError, match="Subclassed cannot be saved for the grader"):
        tf_utils.save_model(Subclassed(), np.zeros(3), np.ones(3), path=tmp_path / "m.keras")
    assert not list(tmp_path.iterdir())  # nothing left behind
