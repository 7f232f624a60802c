"""The kit installs wherever students run notebooks, not only through our Makefile.

The extras of pyproject.toml pin what requirements*.txt pin and cover every package the
notebooks and the package import; and (slow) a derived starter, installed the README's way
without make (`pip install -e "KIT[notebooks]"` in a fresh venv), runs a notebook with plain
`jupyter nbconvert --execute` from another folder, finding CIFAR-10 where `get_datasets.sh`
(run outside the kit's .venv) recorded it.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import release  # noqa: E402

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)")


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def pinned_in_requirements() -> dict[str, str]:
    """Package -> version pinned by requirements.txt and requirements-tensorflow.txt."""
    pins = {}
    for path in sorted(ROOT.glob("requirements*.txt")):
        for line in path.read_text().splitlines():
            if match := PIN.match(line.strip()):
                pins[_name(match[1])] = match[2]
    return pins


def test_extras_pin_what_the_requirements_pin() -> None:
    pins = pinned_in_requirements()
    for extra, requirements in PROJECT["optional-dependencies"].items():
        for requirement in requirements:
            if match := PIN.match(requirement):
                assert pins.get(_name(match[1])) == match[2], (extra, requirement)
    # torch pinned (a plain "torch" may resolve to a CUDA build of several GB)
    for extra in ("notebooks", "test"):
        assert "torch==" + pins["torch"] in PROJECT["optional-dependencies"][extra]
    assert "tensorflow-cpu" not in (ROOT / "requirements.txt").read_text()


def imported_modules(source: str) -> set[str]:
    """Top-level names of the absolute imports in ``source`` (magic lines left out)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    found = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"cs231n", "__future__"}


def declared_distributions(*extras: str) -> set[str]:
    requirements = PROJECT["dependencies"] + [
        r for extra in extras for r in PROJECT["optional-dependencies"][extra]
    ]
    return {_name(r) for r in requirements}


@pytest.mark.parametrize("notebook", sorted(p.name for p in ROOT.glob("*.ipynb")))
def test_the_notebooks_extra_covers_every_import(notebook: str) -> None:
    """Every module that the notebook's cells, or the package modules it uses, import comes
    with the kit's dependencies and the ``notebooks`` extra (TensorFlow.ipynb: and
    ``tensorflow``)."""
    cells = json.loads((ROOT / notebook).read_text())["cells"]
    modules = set()
    for cell in cells:
        if cell["cell_type"] == "code":
            modules |= imported_modules("".join(cell["source"]))
    package = [p for p in (ROOT / "cs231n").rglob("*.py") if "reference_models" not in p.name]
    tf_only = ("tf_utils.py",)
    for path in package:
        if notebook == "TensorFlow.ipynb" or path.name not in tf_only:
            modules |= imported_modules(path.read_text())
    extras = ("notebooks", "tensorflow") if notebook == "TensorFlow.ipynb" else ("notebooks",)
    declared = declared_distributions(*extras)
    owners = packages_distributions()
    missing = {
        module: owners.get(module)
        for module in modules
        if not {_name(d) for d in owners.get(module, [module])} & declared
        # a dependency of a declared package (e.g. IPython of jupyter) is installed with it
        and not _installed_with(owners.get(module, [module]), declared)
    }
    assert not missing, missing


def _installed_with(distributions: list[str], declared: set[str]) -> bool:
    """Whether one of ``distributions`` is required, at any depth, by a ``declared`` one."""
    from importlib.metadata import PackageNotFoundError, requires

    wanted, seen, todo = {_name(d) for d in distributions}, set(), list(declared)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            deps = requires(name) or []
        except PackageNotFoundError:
            continue
        for dep in deps:
            if "extra ==" not in dep:
                todo.append(_name(dep))
    return bool(wanted & seen)


# ------------------------------------------------------------------------------ a fresh venv

FC = "FullyConnectedNets.ipynb"


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_plain_pip_install_runs_a_notebook_with_nbconvert(tmp_path: Path) -> None:
    cifar = os.environ.get("CS231N_CIFAR10", "")
    if not Path(cifar).is_dir():
        pytest.skip("CS231N_CIFAR10 does not name a CIFAR-10 folder")
    kit = tmp_path / "kit"
    kit.mkdir()
    solved = {*release.declared_functions(json.loads((ROOT / FC).read_text())), FC}
    release.build(ROOT, kit, frozenset(solved))
    nb = json.loads((kit / FC).read_text())  # the student sets QUICK = True
    (params,) = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    params["source"] = "QUICK = True\n"
    (kit / FC).write_text(json.dumps(nb))

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CS231N_", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",  # as if the venv were active
        HOME=str(tmp_path / "home"),  # no kernel or config of this machine's user
        PYTHONNOUSERSITE="1",
    )
    env.pop("PYTHONPATH", None)
    # the README's install without make
    _run([str(venv / "bin/pip"), "install", "-q", "-e", f"{kit}[notebooks]"], env=env, timeout=900)
    # get_datasets.sh outside the kit's .venv: finds CIFAR-10 and records where it is
    data = _run(
        ["bash", str(kit / "cs231n/datasets/get_datasets.sh")],
        env={**env, "CS231N_CIFAR10": cifar},
        cwd=tmp_path,
        timeout=300,
    )
    assert "Recorded this folder" in data.stdout, data.stdout
    # a new shell without CS231N_CIFAR10, in another folder: plain nbconvert
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    command = [str(venv / "bin/jupyter"), "nbconvert", "--to", "notebook", "--execute"]
    command += [str(kit / FC), "--output-dir", str(elsewhere)]
    _run(command, env=env, cwd=elsewhere, timeout=900)
    executed = json.loads((elsewhere / FC).read_text())
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "[check]" in text and "FAILED" not in text
    assert "X_train  (1000, 3, 32, 32) float32" in text  # quick mode, on the recorded data
