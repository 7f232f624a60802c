"""Known mistakes named where the student works: the notebooks' checks and the public tests.

The data (``cs231n/notebook_mistakes.npz``, written by ``tools/notebook_mistakes.py``) is fresh
and holds only numbers and the catalogue's hints; a failed check names the mistake whose
recorded values it meets, and no other; and, in a derived starter filled with our solution, each
recorded catalogue entry planted in turn is named by the notebook's check cell and by the
matching public test, while the solution and the empty starter get no hint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cs231n import known_mistakes
from cs231n.notebook_checks import check_close

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import notebook_mistakes, release  # noqa: E402
from tools.grade.mistakes import CATALOGUE, Mistake, patch_text  # noqa: E402

OUTPUTS, FINGERPRINTS = known_mistakes.load()
RECORDED = [(name, k) for name, known in sorted(OUTPUTS.items()) for k in known]


def line(k: known_mistakes.KnownOutput) -> str:
    return f"in {k.function}: {k.hint}"


def whole(k: known_mistakes.KnownOutput) -> bool:
    """Whether ``k`` holds its arrays whole (not sampled)."""
    return k.actual.size == np.prod(k.actual_shape) and k.expected.size == np.prod(k.expected_shape)


@pytest.mark.parametrize("notebook", notebook_mistakes.NOTEBOOKS.values())
def test_the_data_is_fresh(notebook) -> None:
    assert FINGERPRINTS.get(notebook) == notebook_mistakes.fingerprint(notebook), (
        f"cs231n/notebook_mistakes.npz is stale for {notebook}: the catalogue, the notebook's "
        f"check cells or the checked modules changed; run "
        f"python -m tools.notebook_mistakes --notebook {notebook}"
    )


def test_the_data_holds_numbers_and_the_catalogues_hints_only() -> None:
    assert release.in_starter(known_mistakes.DATA.relative_to(ROOT).as_posix())
    hints = {(m.function, m.hint) for m in CATALOGUE}
    patches = [new.strip() for m in CATALOGUE for _, _, new in m.patches if len(new.strip()) > 8]
    with np.load(known_mistakes.DATA, allow_pickle=False) as data:  # no pickled objects
        assert all(data[key].dtype == np.float64 for key in data.files if key != "meta")
        meta = json.loads(str(data["meta"]))
    words = [str(value) for known in meta["checks"].values() for k in known for value in k.values()]
    assert not [p for p in patches if any(p in w for w in words)], "a patch's code is in the data"
    assert {(k.function, k.hint) for _, k in RECORDED} <= hints
    assert len(RECORDED) >= 60


@pytest.mark.parametrize(
    ("name", "k"),
    [pytest.param(n, k, id=f"{n} <- {k.hint[:40]}") for n, k in RECORDED if whole(k)],
)
def test_a_failed_check_names_the_recorded_mistake(name, k) -> None:
    actual, expected = k.actual.reshape(k.actual_shape), k.expected.reshape(k.expected_shape)
    with pytest.raises(AssertionError) as failed:
        check_close(name, actual, expected, 1e-12)
    message = str(failed.value)
    assert message.startswith(f"{name}: ")  # the check's own message comes first
    assert f"{known_mistakes.HINT}" in message and line(k) in message, message
    # Every mistake named meets these values too: a second one only when they agree.
    for other_name, other in RECORDED:
        if other_name == name and line(other) in message and other is not k:
            assert np.allclose(other.actual, k.actual) and np.allclose(other.expected, k.expected)


def test_other_values_name_no_mistake() -> None:
    name, k = next((n, k) for n, k in RECORDED if whole(k) and k.actual.size > 4)
    actual, expected = k.actual.reshape(k.actual_shape), k.expected.reshape(k.expected_shape)
    for a, e in [
        (actual * (1 + 1e-3), expected),  # another mistake
        (actual, expected + 1.0),  # other inputs
        (actual, expected.astype(np.float32)[..., None]),  # other shapes
    ]:
        with pytest.raises(AssertionError) as failed:
            check_close(name, a, e, 1e-9)
        assert known_mistakes.HINT not in str(failed.value)
    with pytest.raises(AssertionError) as failed:
        check_close(f"{name} (other inputs)", actual, expected, 1e-9)
    assert known_mistakes.HINT not in str(failed.value)
    assert check_close(name, expected, expected, 1e-9) == 0.0  # right: no message at all


def test_two_mistakes_that_agree_are_both_listed(monkeypatch) -> None:
    name, k = next((n, k) for n, k in RECORDED if whole(k))
    twin = dataclasses.replace(k, function="relu_forward", hint="another way to get there")
    monkeypatch.setattr(known_mistakes, "_shipped", lambda: {name: [k, twin]})
    with pytest.raises(AssertionError) as failed:
        check_close(name, k.actual.reshape(k.actual_shape), k.expected.reshape(k.expected_shape))
    message = str(failed.value)
    assert f"{known_mistakes.HINT}, one of these:" in message
    assert f"  - {line(k)}" in message and f"  - {line(twin)}" in message, message


# ------------------------------------------------------------------ planted in the starter

# Runs in a kit, as its student would: for each job, the package's files as the job gives them
# (a planted mistake), then the job's check cells by themselves and through the public test.
# One process runs all jobs of a notebook (each gets freshly imported modules): the imports of
# torch and pytest are the larger part of a run.
DRIVER = """
import contextlib, io, json, pathlib, sys
import pytest
notebook, jobs = sys.argv[1], json.loads(sys.stdin.read())
test = "tests/test_notebook_cells.py::test_notebook_cell[%s-%%s]" % notebook.split(".")[0]
said = {}
for job in jobs:
    old = {path: pathlib.Path(path).read_text() for path in job["files"]}
    for path, text in job["files"].items():
        pathlib.Path(path).write_text(text)
    for name in [m for m in sys.modules if m.split(".")[0] in ("cs231n", "conftest")]:
        del sys.modules[name]
    sys.modules.pop("test_notebook_cells", None)
    from cs231n import notebook_cells
    cells = [c for c in notebook_cells.check_cells(notebook_cells.load(notebook))
             if c.label in job["labels"]]
    result = {"cells": {}, "pytest": io.StringIO()}
    for cell in cells:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                notebook_cells.run_cell(notebook_cells.load(notebook), cell)
            result["cells"][cell.label] = None
        except Exception as error:
            result["cells"][cell.label] = f"{type(error).__name__}: {error}"
    if cells:  # pytest without node ids would run every test
        with contextlib.redirect_stdout(result["pytest"]):
            pytest.main(["-q", "-p", "no:cacheprovider", *(test % c.label for c in cells)])
    said[job["name"]] = {**result, "pytest": result["pytest"].getvalue()}
    for path, text in old.items():
        pathlib.Path(path).write_text(text)
print(json.dumps(said))
"""


def cells_naming(mistake: Mistake) -> list[str]:
    """The labels of the check cells where ``mistake``'s outputs are recorded."""
    wanted = f"in {mistake.function}: {mistake.hint}"
    return sorted({k.cell.split("::")[1] for _, k in RECORDED if line(k) == wanted})


EXERCISED = [m for m in CATALOGUE if cells_naming(m)]


def test_most_entries_are_exercised_by_the_notebooks_fixed_inputs() -> None:
    # The others: a setting the checks do not look at (weight_scale, the dtype, filter_size,
    # running averages), an input that hides the mistake (stride 1 and pad 1 in conv backward),
    # an error raised before any check (KeyError), or a mistake the gradient check cannot see
    # (analytic and numeric gradients agree, as in "regularizes the biases").
    assert len(EXERCISED) >= 60, [m.name for m in CATALOGUE if m not in EXERCISED]


def run_in(kit: Path, notebook: str, jobs: list[dict]) -> dict:
    """What ``notebook``'s check cells say in ``kit`` for each job ({"name", "files": {path:
    text}, "labels"}): {name: {"cells": {label: message or None}, "pytest": its report}}."""
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, notebook],
        input=json.dumps(jobs),
        cwd=kit,
        env={**os.environ, "PYTHONPATH": str(kit), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def planted_files(kit: Path, mistake: Mistake) -> dict[str, str]:
    """The package files of ``kit`` that ``mistake``'s patches change, as patched."""
    files: dict[str, str] = {}
    for rel, before, after in mistake.patches:
        path = f"cs231n/{rel}"
        text = files.get(path) or (kit / path).read_text()
        files[path] = patch_text(text, before, after, rel)
    return files


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> Path:
    """The starter with every function of notebooks 1-4 filled in from our solution, and an
    empty starter beside it, each with the Cython extension."""
    base = tmp_path_factory.mktemp("planted")
    solved = {
        function
        for name in notebook_mistakes.NOTEBOOKS.values()
        for function in release.declared_functions(json.loads((ROOT / name).read_text()))
    }
    for kit, filled in (("kit", frozenset(solved)), ("empty", frozenset())):
        (base / kit).mkdir()
        release.build(ROOT, base / kit, filled)
        for built in (ROOT / "cs231n").glob("im2col_cython*.so"):
            shutil.copy2(built, base / kit / "cs231n")
    return base


@pytest.fixture(scope="module")
def planted(starter) -> dict[str, dict]:
    """What each exercised entry, planted in the filled starter, makes its cells say."""
    said = {}
    for question, notebook in notebook_mistakes.NOTEBOOKS.items():
        jobs = [
            {"name": m.name, "files": planted_files(starter / "kit", m), "labels": cells_naming(m)}
            for m in EXERCISED
            if m.question == question
        ]
        said |= run_in(starter / "kit", notebook, jobs)
    return said


@pytest.mark.slow
@pytest.mark.parametrize("notebook", notebook_mistakes.NOTEBOOKS.values())
def test_the_solution_and_the_empty_starter_get_no_hint(starter, notebook) -> None:
    labels = sorted({k.cell.split("::")[1] for _, k in RECORDED if k.cell.startswith(notebook)})
    for kit in ("kit", "empty"):  # the solution passes, the empty starter stops: no hint
        said = run_in(starter / kit, notebook, [{"name": kit, "files": {}, "labels": labels}])
        assert known_mistakes.HINT not in json.dumps(said), (kit, said)
        assert all(m is None for m in said[kit]["cells"].values()) == (kit == "kit"), said


@pytest.mark.slow
@pytest.mark.parametrize("mistake", EXERCISED, ids=lambda m: m.name)
def test_a_planted_mistake_is_named_by_the_notebook_and_the_public_test(planted, mistake) -> None:
    said, labels = planted[mistake.name], cells_naming(mistake)
    wanted = f"in {mistake.function}: {mistake.hint}"
    assert sorted(said["cells"]) == labels, said
    for label, message in said["cells"].items():
        assert message and wanted in message, (label, message)
    assert said["pytest"].count(wanted) >= len(labels), said["pytest"][-3000:]
