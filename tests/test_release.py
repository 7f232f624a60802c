"""tools/release.py: the student starter kit derived from the solution.

Most tests release a small solution built in a temporary folder; the others release this
repository itself and check the starter: which files it holds, that it imports and every
student function stops with NotImplementedError naming itself, that no solution line leaks
into it, that its notebooks stop at the first unimplemented function (slow) and that
collectSubmission runs on it.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import reach, release  # noqa: E402
from tools.collect_submission import END, NOTEBOOKS, START, cell_source  # noqa: E402

LAYERS = f'''"""Layers."""


def affine_forward(x, w):
    """Docstring."""
    n = len(x)
    # TODO: write the forward pass: out, the product.
    {START}
    out = x * w + n
    {END}
    return out, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    # TODO: write the backward pass: dx and dw.
    {START}
    dx = dout * w
    dw = dout * x
    {END}
    return dx, dw
'''
NET = f"""class Net:
    def __init__(self, scale):
        self.params = {{}}
        # TODO: initialize the parameters: W1 in self.params.
        {START}
        self.params["W1"] = scale * 3.5
        {END}

    def loss(self, X):
        {START}
        scores = X * self.params["W1"] + 0.25
        {END}
        return scores
"""


def _nb(cells: list[dict], functions: tuple[str, ...] = ()) -> dict:
    metadata = {"kernelspec": {"name": "python3"}, "cs231n": {"functions": list(functions)}}
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def _cell(kind: str, source: str, cell_id: str, **extra) -> dict:
    cell = {
        "cell_type": kind,
        "id": cell_id,
        "metadata": extra.pop("metadata", {}),
        "source": source,
    }
    if kind == "code":
        cell.update(execution_count=extra.get("count", 1), outputs=extra.get("outputs", []))
    return cell


NOTEBOOK = _nb(
    [
        _cell("markdown", "# Demo notebook\n\nIntro.", "a"),
        _cell("code", "QUICK = False", "b"),
        _cell(
            "code",
            f"def two_layer(x):\n    # TODO: write the forward pass: scores.\n    {START}\n"
            f"    scores = x + 17\n    {END}\n    return scores\n\nprint(two_layer(1))",
            "c",
            outputs=[{"output_type": "stream", "name": "stdout", "text": "18\n"}],
        ),
        _cell("markdown", "## Part IV: your own model", "d"),
        _cell(
            "code",
            f"# TODO: build your own model here: model.\n{START}\nmodel = make_reference_model()\n"
            f"{END}\nprint(model)",
            "e",
            count=2,
        ),
        _cell(
            "markdown",
            "Our solution lives in a secret module.",
            "f",
            metadata={"tags": ["solution-only"]},
        ),  # fmt: skip
        _cell("markdown", "**Your Answer:** Because the gradient vanishes.", "g"),
    ],
    functions=(
        "cs231n/layers.py::affine_forward",
        "cs231n/layers.py::affine_backward",
        "cs231n/classifiers/fc_net.py::Net.__init__",
        "cs231n/classifiers/fc_net.py::Net.loss",
    ),
)


@pytest.fixture
def solution(tmp_path: Path) -> Path:
    """A small solution repository with every kind of file the release sorts."""
    root = tmp_path / "solution"
    files = {
        "cs231n/__init__.py": "",
        "cs231n/layers.py": LAYERS,
        "cs231n/classifiers/__init__.py": "",
        "cs231n/classifiers/fc_net.py": NET,
        "cs231n/reference_models.py": "def make_reference_model():\n    return 'secret net 42'\n",
        "cs231n/im2col_cython.pyx": "# cython source\n",
        "cs231n/im2col_cython.c": "/* generated */\n",
        "cs231n/datasets/fetch.py": "URL = 'x'\n",
        "cs231n/datasets/cifar-10-batches-py/data_batch_1": "data",
        "tests/conftest.py": "",
        "tests/test_q1_layers.py": "def test_x():\n    pass\n",
        "tests/test_release.py": "def test_y():\n    pass\n",
        "tests/test_grade.py": "def test_z():\n    pass\n",
        "tools/release.py": "# the release tool\n",
        "tools/grade.py": "# the grader\n",
        "benchmarks/bench.py": "# benchmark\n",
        "scripts/train.py": "# make run\n",
        "build/lib/x.py": "# build output\n",
        "README.md": "# The solution's README\n",
        "requirements.txt": "numpy==2.4.6\n",
        "requirements-tensorflow.txt": "tensorflow-cpu==2.21.0\n",
        "setup.py": "# setup\n",
        "pyproject.toml": "[project]\nname = 'x'\n",
        ".gitignore": ".venv/\n",
        "collectSubmission.sh": "#!/bin/bash\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for rel in ("tools/collect_submission.py", "tools/starter_README.md", "Makefile"):
        shutil.copy(ROOT / rel, root / rel)
    (root / "Demo.ipynb").write_text(json.dumps(NOTEBOOK))
    return root


def _release(solution: Path, out: Path, *extra: str) -> int:
    return release.main([str(out), "--root", str(solution), *extra])


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------ small kit


def test_starter_holds_only_the_student_files(solution: Path, tmp_path: Path) -> None:
    out = tmp_path / "starter"
    assert _release(solution, out) == 0
    assert _files(out) == [
        ".gitignore",
        "Demo.ipynb",
        "Makefile",
        "README.md",
        "collectSubmission.sh",
        "cs231n/__init__.py",
        "cs231n/classifiers/__init__.py",
        "cs231n/classifiers/fc_net.py",
        "cs231n/datasets/fetch.py",
        "cs231n/im2col_cython.pyx",
        "cs231n/layers.py",
        "pyproject.toml",
        "requirements-tensorflow.txt",
        "requirements.txt",
        "setup.py",
        "tests/conftest.py",
        "tests/test_q1_layers.py",
        "tools/collect_submission.py",
        "tools/markers.json",
    ]
    assert (out / "README.md").read_text() == (ROOT / "tools" / "starter_README.md").read_text()
    counts = json.loads((out / "tools" / "markers.json").read_text())
    assert counts == {"Demo.ipynb": 2, "cs231n/classifiers/fc_net.py": 2, "cs231n/layers.py": 2}


def test_blocks_become_placeholders_naming_the_function(solution: Path, tmp_path: Path) -> None:
    out = tmp_path / "starter"
    assert _release(solution, out) == 0
    layers = (out / "cs231n" / "layers.py").read_text()
    raise_ = '    raise NotImplementedError("{}: write the {} pass in cs231n/layers.py")\n'
    assert layers == LAYERS.replace(
        "    out = x * w + n\n", raise_.format("affine_forward", "forward")
    ).replace(
        "    dx = dout * w\n    dw = dout * x\n", raise_.format("affine_backward", "backward")
    )
    namespace: dict = {}
    exec(compile(layers, "layers.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r"^affine_forward: write the forward pass"):
        namespace["affine_forward"]([1.0], 2.0)
    net = (out / "cs231n" / "classifiers" / "fc_net.py").read_text()
    exec(compile(net, "fc_net.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r"^Net.__init__: initialize the parameters in"):
        namespace["Net"](1.0)
    # no TODO above the block: a generic wording, still naming the method and the file
    assert "Net.loss: write the code between the markers in cs231n/classifiers/fc_net.py" in net


def test_markers_and_todos_stay_exactly_as_they_were(solution: Path, tmp_path: Path) -> None:
    out = tmp_path / "starter"
    assert _release(solution, out) == 0
    for rel in ("cs231n/layers.py", "cs231n/classifiers/fc_net.py"):
        kept = [
            line
            for line in (solution / rel).read_text().splitlines()
            if "OF YOUR CODE" in line or "# TODO" in line
        ]
        assert kept == [
            line
            for line in (out / rel).read_text().splitlines()
            if "OF YOUR CODE" in line or "# TODO" in line
        ]


def test_notebooks_lose_outputs_answers_and_solution_cells(solution: Path, tmp_path: Path) -> None:
    out = tmp_path / "starter"
    assert _release(solution, out) == 0
    cells = json.loads((out / "Demo.ipynb").read_text())["cells"]
    assert [c["id"] for c in cells] == ["a", "b", "c", "d", "e", "g"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert cells[-1]["source"] == "**Your Answer:** *fill this in*"
    assert (
        'raise NotImplementedError("two_layer: write the forward pass in Demo.ipynb")'
        in cells[2]["source"]
    )
    part4 = cells[4]["source"]
    message = "Part IV: your own model: build your own model here in Demo.ipynb"
    assert part4.splitlines() == [
        "# TODO: build your own model here: model.",
        START,
        f'raise NotImplementedError("{message}")',
        END,
        "print(model)",
    ]


def test_no_solution_line_leaks(solution: Path, tmp_path: Path) -> None:
    out = tmp_path / "starter"
    assert _release(solution, out) == 0
    assert release.find_leaks(solution, out) == []
    text = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file())
    for secret in ("x * w + n", "scale * 3.5", "x + 17", "make_reference_model", "secret net",
                   "gradient vanishes", "secret module"):  # fmt: skip
        assert secret not in text
    # the check finds a line that slipped through
    (out / "cs231n" / "extra.py").write_text("    dw = dout * x\n")
    assert release.find_leaks(solution, out) == ["cs231n/extra.py: dw = dout * x"]


def test_makefile_keeps_the_student_targets(solution: Path, tmp_path: Path) -> None:
    out = tmp_path / "starter"
    assert _release(solution, out) == 0
    makefile = (out / "Makefile").read_text()
    for target in ("install:", "data:", "test:", "pdf-deps:", "clean:"):
        assert f"\n{target}" in makefile
    for target in ("run:", "bench:", "release:", "autograder:"):
        assert f"\n{target}" not in makefile
    # TensorFlow only on request: the solution's "Solution only" paragraph stays out
    assert "\ninstall-tensorflow:" in makefile and "# Solution only" not in makefile
    assert "install: install-tensorflow" not in makefile
    assert "install: install-tensorflow" in (solution / "Makefile").read_text()


# What a starter file may reach, and what it may not: (file, text, the problem named or None).
REACHES = [
    ("tests/conftest.py",
     "import sys\nsys.path.insert(0, str(ROOT / 'scripts'))\nfrom train import run\n",
     "tests/conftest.py: reaches scripts"),
    ("tests/conftest.py", "from train import run\n", None),  # no such module beside it
    ("tests/conftest.py", "pytest_plugins = ['tools.grade']\n", "imports tools.grade"),
    ("tests/conftest.py", "PLUGIN = ROOT / 'tools' / 'grade.py'\n", "reaches tools/grade.py"),
    ("tests/conftest.py", "PLUGIN = 'benchmarks/bench.py'\n", "reaches benchmarks/bench.py"),
    ("cs231n/layers.py", "from ..tools.release import build\n", None),  # beyond the root
    ("cs231n/layers.py", "from .reference_models import make_reference_model\n",
     "imports cs231n.reference_models"),
    ("cs231n/layers.py", "import numpy\nimport torch\nDATA = ROOT / 'cifar' / 'x.py'\n", None),
    ("cs231n/layers.py", "from tools.collect_submission import START\n", None),  # shipped
    ("requirements.txt", "# see scripts/train.py\nnumpy==2.4.6\n", "names scripts/train.py"),
    ("requirements.txt", "# the grader: python -m tools.grade\n", "runs module tools.grade"),
    ("requirements.txt", "# bench.py and `make bench` time it\n", "names bench.py"),
    ("requirements.txt", "# `make bench` times it\n", "names `make bench`"),
    ("requirements.txt", "# `make test`, collectSubmission.sh, cs231n/layers.py\n", None),
]  # fmt: skip


@pytest.mark.parametrize(("rel", "text", "problem"), REACHES)
def test_the_starter_reaches_only_what_it_ships(
    solution: Path, tmp_path: Path, capsys, rel: str, text: str, problem: str | None
) -> None:
    path = solution / rel
    path.write_text(path.read_text() + "\n" + text if rel.endswith(".py") else text)
    status = _release(solution, tmp_path / "starter")
    err = capsys.readouterr().err
    if problem is None:
        assert status == 0, err
    else:
        assert status == 1 and "the starter reaches what it does not ship" in err
        assert problem in err, err
        assert not (tmp_path / "starter").exists()


def test_a_makefile_comment_naming_the_solutions_parts_stops_the_release(
    solution: Path, tmp_path: Path, capsys
) -> None:
    makefile = solution / "Makefile"
    makefile.write_text(
        makefile.read_text().replace(
            "PYTEST_ARGS ?=", "# the notebooks run with scripts/train.py\nPYTEST_ARGS ?="
        )
    )
    assert _release(solution, tmp_path / "starter") == 1
    assert "Makefile:" in (err := capsys.readouterr().err) and "names scripts/train.py" in err


def test_existing_out_dir_needs_force_and_is_replaced_atomically(
    solution: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "starter"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert _release(solution, out) == 1
    assert "not empty; pass --force" in capsys.readouterr().err
    assert _files(out) == ["mine.txt"]
    assert _release(solution, out, "--force") == 0
    assert "mine.txt" not in _files(out) and "cs231n/layers.py" in _files(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["solution", "starter"]  # no temp dirs


def test_an_empty_out_dir_is_fine_and_the_solution_is_refused(
    solution: Path, tmp_path: Path, capsys
) -> None:
    (tmp_path / "empty").mkdir()
    assert _release(solution, tmp_path / "empty") == 0
    for bad in (solution, solution / "cs231n" / "starter", tmp_path):
        assert _release(solution, bad, "--force") == 1
    assert "inside the solution" in capsys.readouterr().err
    assert (solution / "cs231n" / "layers.py").read_text() == LAYERS


def test_a_broken_marker_stops_the_release(solution: Path, tmp_path: Path, capsys) -> None:
    path = solution / "cs231n" / "layers.py"
    path.write_text(path.read_text().replace(f"    {END}\n    return dx, dw", "    return dx, dw"))
    assert _release(solution, tmp_path / "starter") == 1
    assert "cs231n/layers.py:17: START is never closed" in capsys.readouterr().err
    assert not (tmp_path / "starter").exists()


def _declare(solution: Path, functions: list[str]) -> None:
    path = solution / "Demo.ipynb"
    nb = json.loads(path.read_text())
    nb["metadata"]["cs231n"]["functions"] = functions
    path.write_text(json.dumps(nb))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f[1:], "cs231n/layers.py::affine_forward has a student block that no notebook"),
        (lambda f: [*f, f[0]], "cs231n/layers.py::affine_forward is declared by 2 notebooks"),
        (lambda f: [*f, "cs231n/layers.py::gone"], "declares cs231n/layers.py::gone, which has no"),
    ],
)
def test_every_student_function_is_declared_by_one_notebook(
    solution: Path, tmp_path: Path, capsys, change, message: str
) -> None:
    _declare(solution, change(NOTEBOOK["metadata"]["cs231n"]["functions"]))
    assert _release(solution, tmp_path / "starter") == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "starter").exists()


def test_build_fills_in_what_a_student_has_solved(solution: Path, tmp_path: Path) -> None:
    """``build(solved=...)`` keeps the named functions and notebooks as the solution has them."""
    out = tmp_path / "kit"
    out.mkdir()
    solved = frozenset({"cs231n/layers.py::affine_backward", "Demo.ipynb"})
    release.build(solution, out, solved)
    layers = (out / "cs231n" / "layers.py").read_text()
    assert "    dx = dout * w\n" in layers and "out = x * w + n" not in layers
    assert "affine_forward: write the forward pass" in layers
    notebook = json.loads((out / "Demo.ipynb").read_text())
    assert "scores = x + 17" in "".join(c["source"] for c in notebook["cells"])
    assert json.loads((out / "tools" / "markers.json").read_text())["cs231n/layers.py"] == 2


# ------------------------------------------------------------------------------------ this repo


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "starter"
    done = subprocess.run(
        [sys.executable, "-m", "tools.release", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "leak check: no solution line in the starter" in done.stdout
    assert "every import and path it names is in it" in done.stdout
    return out


def test_repo_starter_file_list(starter: Path) -> None:
    files = _files(starter)
    for rel in ("README.md", "Makefile", "collectSubmission.sh", "requirements.txt", "setup.py",
                "pyproject.toml", "tools/collect_submission.py", "cs231n/layers.py",
                "tests/test_q1_layers.py"):  # fmt: skip
        assert rel in files
    assert [n for n in NOTEBOOKS if (ROOT / n).exists()] == [n for n in NOTEBOOKS if n in files]
    for rel in files:
        assert not rel.startswith(("benchmarks/", "scripts/", ".ci/", "tools/grade"))
        assert "reference_models" not in rel and not rel.endswith((".so", ".c", ".pkl"))
        assert rel not in ("tools/release.py", "tests/test_release.py", "tests/test_q5_pytorch.py")
    assert "cs231n/datasets/fetch.py" in files
    assert not any("cifar-10-batches-py/" in rel for rel in files)


def test_repo_starter_leaks_nothing(starter: Path) -> None:
    assert release.find_leaks(ROOT, starter) == []


def test_repo_starter_markers_match_the_solution(starter: Path) -> None:
    counts = json.loads((starter / "tools" / "markers.json").read_text())
    for rel, n in counts.items():
        text = (ROOT / rel).read_text()
        if rel.endswith(".ipynb"):
            sources = [c["source"] for c in json.loads(text)["cells"] if c["cell_type"] == "code"]
            text = "\n".join("".join(s) for s in sources)
        assert text.count(START) == text.count(END) == n, rel


STUDENT_CALLS = """
import numpy as np
from cs231n import layers, layer_utils, optim
from cs231n.classifiers import cnn, fc_net

x, w, b = np.ones((2, 3)), np.ones((3, 4)), np.ones(4)
img, filt = np.ones((1, 2, 4, 4)), np.ones((3, 2, 3, 3))
bn = {"mode": "train"}
conv, pool = {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2}
calls = {
    "affine_forward": lambda: layers.affine_forward(x, w, b),
    "affine_backward": lambda: layers.affine_backward(np.ones((2, 4)), (x, w)),
    "relu_forward": lambda: layers.relu_forward(x),
    "softmax_loss": lambda: layers.softmax_loss(x, np.zeros(2, dtype=int)),
    "svm_loss": lambda: layers.svm_loss(x, np.zeros(2, dtype=int)),
    "batchnorm_forward": lambda: layers.batchnorm_forward(x, np.ones(3), np.zeros(3), bn),
    "layernorm_forward": lambda: layers.layernorm_forward(x, np.ones(3), np.zeros(3), {}),
    "dropout_forward": lambda: layers.dropout_forward(x, {"p": 0.5, "mode": "train"}),
    "conv_forward_naive": lambda: layers.conv_forward_naive(img, filt, np.ones(3), conv),
    "max_pool_forward_naive": lambda: layers.max_pool_forward_naive(img, pool),
    "spatial_batchnorm_forward": lambda: layers.spatial_batchnorm_forward(
        img, np.ones(2), np.zeros(2), {"mode": "train"}),
    "affine_relu_forward": lambda: layer_utils.affine_relu_forward(x, w, b),
    "conv_relu_pool_forward": lambda: layer_utils.conv_relu_pool_forward(
        img, filt, np.ones(3), conv, pool),
    "sgd": lambda: optim.sgd(w, w),
    "sgd_momentum": lambda: optim.sgd_momentum(w, w),
    "rmsprop": lambda: optim.rmsprop(w, w),
    "adam": lambda: optim.adam(w, w),
    "TwoLayerNet.__init__": lambda: fc_net.TwoLayerNet(),
    "FullyConnectedNet.__init__": lambda: fc_net.FullyConnectedNet([5]),
    "ThreeLayerConvNet.__init__": lambda: cnn.ThreeLayerConvNet(),
}
for name, call in calls.items():
    try:
        call()
    except NotImplementedError as error:
        assert str(error).startswith(name + ": "), (name, str(error))
        assert " in cs231n/" in str(error), str(error)
    else:
        raise AssertionError(name + " did not raise NotImplementedError")
print("all", len(calls), "raise")
"""


def test_repo_starter_imports_and_every_student_function_raises(starter: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(starter)}
    done = subprocess.run(
        [sys.executable, "-c", STUDENT_CALLS],
        cwd=starter,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("all 20 raise")


def test_repo_starter_blocks_all_hold_a_placeholder(starter: Path) -> None:
    for rel in json.loads((starter / "tools" / "markers.json").read_text()):
        text = (starter / rel).read_text()
        if rel.endswith(".ipynb"):
            cells = json.loads(text)["cells"]
            text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        lines = text.split("\n")
        for start, end in _pairs(lines):
            body = "\n".join(lines[start + 1 : end]).strip()
            assert body.startswith("raise NotImplementedError("), (rel, body)
            assert all(len(line) <= 100 for line in lines[start + 1 : end]), (rel, body)
            (statement,) = ast.parse(body).body
            message = statement.exc.args[0].value
            if rel.endswith(".py"):  # the message starts with the enclosing function's name
                name = release.enclosing_name(text, start + 1)
                assert message.startswith(f"{name}: ") and message.endswith(f" in {rel}"), message


def _pairs(lines: list[str]) -> list[tuple[int, int]]:
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    return list(zip(starts, ends, strict=True))


def test_collect_submission_runs_on_the_starter(starter: Path, tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    shutil.copytree(starter, kit)
    done = subprocess.run(
        ["bash", "collectSubmission.sh"], cwd=kit, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    assert "PyTorch.ipynb: never run" in done.stderr and "nothing was written" in done.stderr
    env = {**os.environ, "CHROMIUM": "no-such-browser"}
    done = subprocess.run(
        ["bash", "collectSubmission.sh", "--force"],
        cwd=kit,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (kit / "a2_code_submission.zip").is_file(), done.stderr
    assert "make pdf-deps" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_repo_starter_notebooks_stop_at_the_first_unimplemented_function(
    starter: Path, tmp_path: Path, name: str
) -> None:
    papermill = pytest.importorskip("papermill")
    if not (starter / name).exists():
        pytest.skip(f"{name} is not written yet")
    if name == "TensorFlow.ipynb":
        pytest.importorskip("tensorflow")
    from cs231n.data_utils import resolve_cifar10_dir

    if not resolve_cifar10_dir().is_dir():
        pytest.skip("CIFAR-10 not found: set CS231N_CIFAR10")
    output = tmp_path / name
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(starter))  # the kernel imports the starter's cs231n
        mp.setenv("CS231N_CIFAR10", str(resolve_cifar10_dir()))
        with pytest.raises(papermill.PapermillExecutionError) as failure:
            papermill.execute_notebook(
                str(starter / name),
                str(output),
                parameters={"QUICK": True},
                cwd=str(starter),
                kernel_name="python3",
                progress_bar=False,
            )
    error = failure.value
    assert error.ename == "NotImplementedError", (error.ename, error.evalue)
    assert textwrap.shorten(error.evalue, 200).split(": ")[0]  # names the function
    assert " in cs231n/" in error.evalue or f" in {name}" in error.evalue


@pytest.mark.slow
def test_repo_starter_builds_as_a_package(starter: Path, tmp_path: Path) -> None:
    """The starter's setup.py and pyproject.toml build it, Cython extension included."""
    import zipfile

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(starter),
            "-w",
            str(tmp_path),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("cs231n_a2-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "cs231n/layers.py" in names and any(n.startswith("cs231n/im2col_cython") for n in names)
    assert not any("reference_models" in n for n in names)


# Paths the starter names that a student's own commands create: build outputs and the data.
CREATED_LATER = {
    "cs231n/im2col_cython.c",
    "cs231n/datasets/cifar10_location.txt",
    "cs231n/datasets/cifar-10-batches-py",
    "cs231n/datasets/.tmp",
}
REPO_PATH = re.compile(r"(?<![\w./-])((?:cs231n|tools|tests|benchmarks|scripts|\.ci)/[\w./-]*\w)")
MAKE_COMMAND = re.compile(r"`+make ([a-z][\w-]*)")


def _texts(root: Path):
    """(relative path, text) of every text file of ``root``; a notebook's text is its cells'."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if path.suffix == ".ipynb":
            text = "\n".join(cell_source(c) for c in json.loads(text)["cells"])
        yield path.relative_to(root).as_posix(), text


def test_repo_starter_reaches_only_what_it_ships(starter: Path) -> None:
    """The release's own check (tools/reach.py), run again on the released starter."""
    solution = reach.Kit(ROOT, release.solution_files(ROOT))
    assert reach.dangling(solution, reach.Kit(starter, _files(starter))) == []
    conftest = (starter / "tests" / "conftest.py").read_text()
    assert "scripts" not in conftest and "tools" not in conftest


def test_repo_starter_installs_pytorch_and_not_tensorflow(starter: Path) -> None:
    assert "torch==" in (starter / "requirements.txt").read_text()
    pins = (starter / "requirements.txt").read_text().splitlines()
    assert not [line for line in pins if line.startswith("tensorflow")]
    assert "tensorflow-cpu==" in (starter / "requirements-tensorflow.txt").read_text()
    makefile = (starter / "Makefile").read_text()
    assert re.search(r"^install-tensorflow: ", makefile, re.MULTILINE)
    assert re.search(r"^install: \$\(STAMP\)$", makefile, re.MULTILINE)


def test_repo_starter_names_only_what_it_ships(starter: Path) -> None:
    """Every repository path and every ``make`` target the starter mentions exists in it."""
    targets = set(re.findall(r"^([\w-]+):", (starter / "Makefile").read_text(), re.MULTILINE))
    dangling = []
    for rel, text in _texts(starter):
        for match in REPO_PATH.finditer(text):
            path = match.group(1)
            if path not in CREATED_LATER and not (starter / path).exists():
                dangling.append(f"{rel}: {path}")
        for match in MAKE_COMMAND.finditer(text):
            if match.group(1) not in targets:
                dangling.append(f"{rel}: make {match.group(1)}")
    assert not dangling, dangling
