"""The grader trusts nothing a worker leaves behind (issue 24): one test per attack.

Each test patches our solution with what a hostile student would write, aimed at the grader's
own process rather than at the machine (tests/test_grade_sandbox.py): planted results, links
and FIFOs where results used to be read, a clock the worker could restart, floods of output,
memory outside any one process, escape sequences and markup in messages and names, notebooks
and archives built to exhaust a parser. Each attack failed on the grader that read its
worker's output folder (checked once against that grader); the channel's own checks
(``channel.py``) are tested at the end, and the solution still scores full marks.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_grade import (
    MAX_Q1_TO_Q4,
    Q1_TO_Q4,
    ROOT,
    SEED,
    describe,
    executed_notebook,
    grade,
    lost,
    make_submission,
)
from test_grade_sandbox import inject, needs

from tools.grade import channel, class_report, notebooks, q5, report, runner, sandbox, session
from tools.grade.cases import CASES_BY_ID, CaseResult

BN_BACKWARD = ("layers.py", "    dxc += 2 * xc * dvar / N\n")  # only in batchnorm_backward


@pytest.fixture(scope="module")
def reference() -> runner.Reference:
    return runner.Reference(SEED, Q1_TO_Q4)


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m tools.grade ARGS`` in a process of its own (killed after ``timeout``)."""
    cmd = [sys.executable, "-m", "tools.grade", *args, "--seed", str(SEED)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------- 1. one channel

PLANT = """
import importlib, importlib.util, json, os, sys, types
import numpy as _np
def _load(_name):
    _path = os.path.join(sys.argv[1], _name + ".py")
    _spec = importlib.util.spec_from_file_location("_planted_" + _name, _path)
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    return _module
_inputs = _np.load(os.path.join(sys.argv[1], "inputs.npz"))
_cs = types.SimpleNamespace(layers=importlib.import_module("cs231n.stash"))
_a = {k.split(".", 1)[1]: _inputs[k] for k in _inputs.files if k.startswith("batchnorm_backward.")}
_out = {k: _np.asarray(v) for k, v in _load("programs").batchnorm_backward(_cs, _a).items()}
os.makedirs("out", exist_ok=True)  # where a grader that read the worker's folder looked
_np.savez("out/batchnorm_backward.npz", **_out)
with open("out/batchnorm_backward.json", "w") as _f:
    json.dump({"error": None, "bad_outputs": {}}, _f)
try:  # a frame on the reply pipe, for a case the grader has not asked for yet
    _head = {"kind": "result", "case": "batchnorm_backward", "error": None, "bad_outputs": {}}
    for _nonce in range(100):
        _load("channel").send(int(sys.argv[3]), {**_head, "nonce": _nonce}, _out)
except Exception:
    pass
"""


def test_an_output_for_a_case_not_asked_for_yet_is_discarded(tmp_path, reference):
    dies = (*BN_BACKWARD, '    __import__("os")._exit(1)\n')  # answers nothing
    sub = make_submission(tmp_path / "s", [inject(PLANT), dies])
    shutil.copyfile(ROOT / "cs231n" / "layers.py", sub / "cs231n" / "stash.py")  # right answers
    result = grade(sub, reference)
    assert lost(result).get("batchnorm_backward") == 7, describe(result)
    assert "svm_loss" not in lost(result), describe(result)  # planting alone costs nothing


SECRET_LINKS = """
import os
os.makedirs("out", exist_ok=True)
for _name in {names!r}:
    for _path in ("out/" + _name, _name):
        try:
            os.symlink({secret!r}, _path)
        except OSError:
            pass
raise RuntimeError("links planted")
"""


def test_a_link_to_a_root_only_file_is_never_followed_by_the_grader(tmp_path, reference):
    if os.geteuid() != 0:  # CI runs as root
        pytest.skip("needs root: the secret must belong to another user than the worker's")
    needs("unprivileged uid")
    secret = tmp_path / "grader-config.json"
    token = f"TOP-SECRET-{os.urandom(8).hex()}"
    secret.write_text(json.dumps({"error": token, "bad_outputs": {}}))
    secret.chmod(0o600)
    tmp_path.chmod(0o755)
    names = [f"{c.program}.{ext}" for c in Q1_TO_Q4 for ext in ("json", "npz")]
    names += ["progress.txt", "sandbox.txt", "worker.log"]
    code = SECRET_LINKS.format(names=names, secret=str(secret))
    result = grade(make_submission(tmp_path / "s", [inject(code)]), reference)
    shown = report.table(result) + json.dumps(report.gradescope(result))
    assert token not in shown, shown
    assert lost(result) == {"svm_loss": 1}, describe(result)
    assert "RuntimeError: links planted" in shown


FIFOS = """
import os
os.makedirs("out", exist_ok=True)
for _name in {names!r}:
    try:
        os.unlink("out/" + _name)
    except OSError:
        pass
    os.mkfifo("out/" + _name)
"""


def test_fifos_where_results_were_read_never_block_the_grader(tmp_path):
    q1 = [c for c in Q1_TO_Q4 if c.question == 1]
    names = [f"{c.program}.{ext}" for c in q1 for ext in ("json", "npz")]
    names += ["progress.txt", "sandbox.txt"]
    sub = make_submission(tmp_path / "s", [inject(FIFOS.format(names=names))])
    out = tmp_path / "results.json"
    try:
        proc = cli(str(sub), "--questions", "1", "--quiet", "--json", str(out), timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("the grader blocked on a FIFO the worker made")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["score"] == 16, proc.stdout


KEEP_ALIVE = """
import os, threading, time
os.makedirs("out", exist_ok=True)
def _tick():
    while True:  # what a grader that timed cases by the worker's progress file saw as progress
        for _case in ("softmax_loss", "svm_loss"):
            with open("out/progress.txt", "a") as _f:
                _f.write(_case + "\\n")
            time.sleep(0.3)
threading.Thread(target=_tick, daemon=True).start()
while True:
    time.sleep(1)
"""


def test_the_case_timer_is_the_graders_own_clock(tmp_path, reference):
    limits = runner.Limits(case_seconds=3.0, total_seconds=60.0)
    result = grade(make_submission(tmp_path / "s", [inject(KEEP_ALIVE)]), reference, limits)
    assert lost(result) == {"svm_loss": 1}, describe(result)
    assert "svm_loss: timed out after 3 s" in report.table(result)
    assert result.seconds < 30, describe(result)


BAD_FRAME = """
import struct, sys, os
os.write(int(sys.argv[3]), struct.pack(">4sII", b"CS2G", 10, 3 * 2**30))  # 3 GiB coming
"""


def test_an_oversized_reply_is_refused_before_it_is_read(tmp_path, reference):
    result = grade(make_submission(tmp_path / "s", [inject(BAD_FRAME)]), reference)
    assert lost(result) == {"svm_loss": 1}, describe(result)
    assert re.search(
        r"svm_loss: stopped: its reply of \d+ bytes is larger than", report.table(result)
    )


# The worst a worker can do to the grader's memory, at once: a 60 MiB file and links to a
# 768 MiB one where results were read, 200 MiB on stdout, and replies of the largest size
# the grader accepts for the case, over and over.
FLOOD = """
import os, sys
os.makedirs("out", exist_ok=True)
with open("out/progress.txt", "w") as _f:
    _f.write(("svm_loss\\n" * 8192) * 800)
for _name in ("rmsprop.json", "rmsprop.npz", "sandbox.txt"):
    try:
        os.symlink({big!r}, "out/" + _name)
    except OSError:
        pass
_line = b"x" * 2**20
for _ in range(200):
    os.write(1, _line)
try:
    import importlib.util
    _spec = importlib.util.spec_from_file_location("_c", os.path.join(sys.argv[1], "channel.py"))
    _channel = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_channel)
    import numpy as _np
    _junk = {{"x": _np.zeros(2**20 // 8 - 64)}}
    for _ in range(300):
        _channel.send(int(sys.argv[3]), {{"kind": "result", "case": "rmsprop", "nonce": 0}}, _junk)
except Exception:
    pass
"""

PEAK = """
import resource, sys
from tools.grade import __main__ as grade
grade.main(sys.argv[1:])
print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _grader_peak_kib(sub: Path, tmp: Path) -> int:
    cmd = [sys.executable, "-c", PEAK, str(sub), "--questions", "1", "--quiet"]
    cmd += ["--seed", str(SEED), "--json", str(tmp / f"{sub.name}.json")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.split("peak")[-1])


@pytest.mark.slow
def test_the_graders_memory_stays_bounded_whatever_the_worker_writes(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(768 * 2**20)  # sparse: costs no disk
    big.chmod(0o644)
    tmp_path.chmod(0o755)
    clean = _grader_peak_kib(make_submission(tmp_path / "clean"), tmp_path)
    code = FLOOD.format(big=str(big))
    hostile = make_submission(tmp_path / "hostile", [inject(code)])
    worst = _grader_peak_kib(hostile, tmp_path)
    print(f"grader peak: clean {clean >> 10} MiB, hostile {worst >> 10} MiB")
    assert worst - clean < 32 * 2**10, f"clean {clean} KiB, hostile {worst} KiB"


# ------------------------------------------------------------------ 2. whole-sandbox bounds

MEMFDS = """
import os
_children, _chunk = [], bytes(16 * 2**20)  # allocated before the forks: no child needs more
for _ in range(2):
    _r, _w = os.pipe()
    _pid = os.fork()
    if _pid == 0:
        try:
            _fds = []
            for _ in range(14):  # 14 x 48 MiB each, none of it mapped, each under the file limit
                _fds.append(os.memfd_create("hoard"))
                for _ in range(3):
                    os.write(_fds[-1], _chunk)
            os.write(_w, b"1")
            os.pause()
        finally:
            os._exit(0)
    os.close(_w)
    _children.append((_pid, _r))
_filled = [_pid for _pid, _r in _children if os.read(_r, 1)]
_holding = [_pid for _pid in _filled if os.waitpid(_pid, os.WNOHANG) == (0, 0)]
raise RuntimeError(f"{len(_holding)} processes hold 672 MiB of memfds each")
"""


@pytest.mark.parametrize("count", ["cgroup", "grader"])
def test_memfds_of_several_processes_count_against_one_memory_limit(
    tmp_path, reference, monkeypatch, count
):
    needs("whole-sandbox memory bound")
    plan = sandbox.plan()
    if count == "cgroup" and not plan.cgroup:
        pytest.skip(f"no memory cgroup here: {plan.why_not}")
    if count == "grader":  # as where no cgroup can be made
        monkeypatch.setattr(sandbox, "plan", lambda: dataclasses.replace(plan, cgroup=0))
    limits = runner.Limits(case_seconds=30.0, total_seconds=120.0, memory_bytes=2**30)
    result = grade(make_submission(tmp_path / "s", [inject(MEMFDS)]), reference, limits)
    text = report.table(result)
    assert "2 processes hold" not in text, text  # 1.3 GiB at once
    assert lost(result) == {"svm_loss": 1}, describe(result)
    stopped = "svm_loss: stopped: the sandbox passed its memory limit of 1024 MiB"
    assert stopped in text or "1 processes hold" in text, text  # the OOM killer ended one
    assert result.total == MAX_Q1_TO_Q4 - 1, text


def test_a_zip_of_too_many_members_is_refused_before_unpacking(tmp_path, reference):
    path = tmp_path / "a2_code_submission.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(runner.MAX_MEMBERS + 1):
            zf.writestr(f"cs231n/m{i}.py", "")
    result = grade(path, reference)
    expected = f"has {runner.MAX_MEMBERS + 1} members, more than {runner.MAX_MEMBERS}"
    assert result.status.startswith("error: ValueError") and expected in result.status
    assert result.seconds < 2, result.seconds


def test_a_zip_that_unpacks_too_large_is_refused_before_unpacking(tmp_path, reference, monkeypatch):
    path = tmp_path / "a2_code_submission.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(6):  # each under the per-file bound, together over the total
            zf.writestr(f"cs231n/big{i}.py", bytes(runner.MAX_FILE_BYTES - 1))
        zf.writestr("cs231n/__init__.py", "")

    def unpack(*args, **kwargs):
        raise AssertionError("a member was unpacked")

    monkeypatch.setattr(zipfile.ZipFile, "open", unpack)
    result = grade(path, reference)
    assert "unpacks to" in result.status and result.status.startswith("error"), result.status


# ------------------------------------------------------------------ 3. text is data

ESCAPES = 'raise RuntimeError("\\x1b[2K\\x1b[1A\\r  total  90.00 / 90 \\u202e <script>x</script>")'


def test_escape_sequences_from_student_code_reach_no_terminal_or_report(tmp_path, reference):
    result = grade(make_submission(tmp_path / "s", [inject(ESCAPES)]), reference)
    table = report.table(result)
    assert "\x1b" not in table and "\u202e" not in table and "\r" not in table
    assert "\\x1b[2K\\x1b[1A" in table and "\\u202e" in table
    data = report.gradescope(result)
    assert data["output_format"] == data["test_output_format"] == "text"
    assert data["test_name_format"] == "text"
    assert all(t["output_format"] == "text" for t in data["tests"])
    strings = [data["output"], *(t["output"] for t in data["tests"])]
    assert not any("\x1b" in s or "\u202e" in s for s in strings), strings


def _hostile_result(reference: runner.Reference) -> runner.Result:
    name = '=HYPERLINK("http://x","<img src=x onerror=alert(1)>")'
    result = runner.Result(name, reference.seed, status="error: <script>alert(1)</script>\x1b]0;")
    case = CASES_BY_ID["svm_loss"]
    result.results = [CaseResult(case, 0.0, "svm_loss: [click](javascript:alert(1)) *x*")]
    return result


def test_names_and_statuses_are_escaped_in_csv_markdown_and_html(tmp_path, reference):
    results = [_hostile_result(reference)]
    report.write_csv(tmp_path / "s.csv", results)
    with open(tmp_path / "s.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[1][0].startswith("'=") and "\x1b" not in rows[1][-3], rows
    md = class_report.write(tmp_path / "r.md", results)[0].read_text()
    page = class_report.write(tmp_path / "r.html", results)[0].read_text()
    for written in (md, page):
        assert "<script>" not in written and "<img src=x" not in written
        assert "\x1b" not in written
    assert "&lt;script&gt;" in md and "&lt;script&gt;" in page


# ------------------------------------------------------------------ 4. notebooks within bounds


def test_a_deeply_nested_notebook_costs_only_its_own_points(tmp_path):
    (tmp_path / "PyTorch.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    executed_notebook(tmp_path / "TensorFlow.ipynb", "Part V: test accuracy 75.00%")
    result, _ = q5.grade_q5(tmp_path, None, runner.Limits(), tmp_path / "t")
    assert result.earned == notebooks.RUN_POINTS and "TensorFlow.ipynb: run" in result.feedback
    claim = notebooks.read_claim(tmp_path / "PyTorch.ipynb")
    assert not claim.ran and "nested too deeply" in claim.note


def test_a_notebook_of_too_many_cells_is_refused_with_a_clear_message(tmp_path):
    cell = {"cell_type": "code", "source": "", "outputs": [], "execution_count": None}
    nb = {"cells": [cell] * (notebooks.MAX_CELLS + 1), "nbformat": 4, "metadata": {}}
    (tmp_path / "PyTorch.ipynb").write_text(json.dumps(nb))
    claim = notebooks.read_claim(tmp_path / "PyTorch.ipynb")
    assert not claim.ran and f"more than {notebooks.MAX_CELLS}" in claim.note, claim


def test_the_solution_still_scores_full_marks_through_the_channel(tmp_path, reference):
    result = grade(make_submission(tmp_path / "s"), reference)
    assert result.total == MAX_Q1_TO_Q4 and result.status == "ok", describe(result)


@pytest.mark.parametrize(
    "arrays",
    [
        [["x", "|O8", [1]]],  # objects: no pickle
        [["x", "<f8", [2**20, 2**20]]],  # a claim far beyond the bytes that came
        [["x", "<f8", [1]]],  # fewer bytes declared than sent
        [["x", "V8", [2]]],  # no raw or structured records
        "x",
    ],
)
def test_a_reply_declaring_arrays_badly_is_an_error_of_its_case(arrays):
    head = {"kind": "result", "error": None, "arrays": arrays}
    report = session.report(head, bytes(16))
    assert report["outputs"] == {} and report["error"].startswith("its outputs could not be read")


def test_the_reader_keeps_no_more_than_one_bounded_frame():
    reader = channel.Reader()
    reader.max_payload = 100
    head = json.dumps({"kind": "result"}).encode()
    frame = channel.HEADER.pack(channel.MAGIC, len(head), 8) + head + bytes(8)
    assert reader.feed(frame * 2) == [({"kind": "result"}, bytes(8))] * 2
    with pytest.raises(channel.ProtocolError, match="larger than"):
        reader.feed(channel.HEADER.pack(channel.MAGIC, len(head), 101))
    with pytest.raises(channel.ProtocolError, match="not a frame"):
        channel.Reader().feed(b"\x1b[2J" + bytes(8))
    deep = b"[" * 50_000
    with pytest.raises(channel.ProtocolError, match="not JSON"):
        channel.Reader().feed(channel.HEADER.pack(channel.MAGIC, len(deep), 0) + deep)


FORGE_FAULT = """
import sys
_frame = sys._getframe()
while _frame is not None and "compat" not in _frame.f_locals:  # up to the worker's loop
    _frame = _frame.f_back
_frame.f_locals["compat"].fault = lambda exc, np: "forged: the machine's fault"
raise ValueError("wrong on purpose")
"""


def test_student_code_cannot_forge_a_fault_of_the_machine(tmp_path, reference):
    """Replacing the worker's fault test (an attribute of its module, reached through the
    frames) from student code changes nothing: the worker bound its own names before any
    student code ran, so the error costs its points."""
    result = grade(make_submission(tmp_path / "s", [inject(FORGE_FAULT)]), reference)
    assert lost(result) == {"svm_loss": 1}, describe(result)
    assert not any(r.regrade for r in result.results), describe(result)
    assert "forged" not in report.table(result)
