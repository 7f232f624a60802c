"""The grader's sandbox (tools/grade/sandbox.py): each escape a real submission tries is
contained, costs only the function it happens in, and the grading run completes.

Each test patches our solution (``make_submission``) with what a hostile student would write.
A test that needs a protection this machine cannot give (no user namespaces, no root) is
skipped, with the reason the sandbox gives; with CS231N_REQUIRE_SANDBOX=1 (CI, whose machine
gives them all) it fails instead.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import sys
from pathlib import Path

import pytest
from test_grade import FAST, MAX_Q1_TO_Q4, Q1_TO_Q4, SEED, describe, grade, lost, make_submission

from tools.grade import __main__ as cli
from tools.grade import report, runner, sandbox

# Lines of two functions that no other graded function calls: code placed before runs there.
SVM = ("layers.py", "    margins[rows, y] = 0\n")  # svm_loss
RMSPROP = ("optim.py", '    config.setdefault("decay_rate", 0.99)\n')  # rmsprop


@pytest.fixture(scope="module")
def reference() -> runner.Reference:
    return runner.Reference(SEED, Q1_TO_Q4)


def needs(*protections: str) -> None:
    """Skip, saying why, where this machine's sandbox lacks one of ``protections``."""
    plan = sandbox.plan()
    missing = [p for p in protections if not plan.active[p]]
    if missing:
        why = f"this machine's sandbox lacks {', '.join(missing)}: {plan.why_not}"
        (pytest.fail if os.environ.get("CS231N_REQUIRE_SANDBOX") == "1" else pytest.skip)(why)


def inject(code: str, before: tuple[str, str] = SVM) -> tuple[str, str, str]:
    """A patch that runs ``code`` (a function body) just before the line ``before``."""
    body = "".join(f"    {line}\n" for line in code.strip("\n").splitlines())
    module, line = before
    return (module, line, body + line)


def alive(token: str) -> list[int]:
    """Processes on this machine whose command line holds ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and token.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


# --------------------------------------------------------------------------- processes

ORPHANS = """
import os
for _ in range(10):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", [{token!r}, "60"])
        os._exit(0)
    os.wait()
"""


def test_setsid_grandchildren_do_not_outlive_the_grading(tmp_path, reference):
    needs("whole-sandbox kill")
    token = f"cs231n-orphan-{secrets.token_hex(4)}"
    patch = inject(ORPHANS.format(token=token))
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert alive(token) == [], f"processes of the submission survived it\n{describe(result)}"
    assert result.total == MAX_Q1_TO_Q4, describe(result)  # forking is harmless in itself


FORK_BURST = """
import os
_n = 0
for _ in range(300):
    try:
        _pid = os.fork()
    except OSError:
        break
    if _pid == 0:
        os.execv("/bin/sleep", [{token!r}, "30"])
    _n += 1
raise RuntimeError(f"forked {{_n}} processes")
"""


OPTIM_USERS = {"sgd", "sgd_momentum", "rmsprop", "adam"}  # what an import of optim.py costs


@pytest.mark.parametrize("at_import", [False, True], ids=["in svm_loss", "at import of optim"])
def test_a_fork_burst_stops_at_the_process_limit(tmp_path, reference, at_import):
    needs("process limit", "whole-sandbox kill")
    token = f"cs231n-burst-{secrets.token_hex(4)}"
    code = FORK_BURST.format(token=token)
    anchor = "import numpy as np\n"
    patch = ("optim.py", anchor, anchor + code) if at_import else inject(code)
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert set(lost(result)) == (OPTIM_USERS if at_import else {"svm_loss"}), describe(result)
    forked = int(re.search(r"forked (\d+) processes", report.table(result)).group(1))
    assert 0 < forked < FAST.processes, describe(result)
    assert alive(token) == []


WRITER = """
import os, sys
while True:
    os.write(int(sys.argv[1]), b"x")
"""


def test_nothing_writes_once_the_worker_is_stopped(tmp_path):
    needs("whole-sandbox kill")
    p = sandbox.plan()
    for attempt in range(10):  # a race: before the fix, 1 in 15 stops let a write land after
        work = tmp_path / f"try{attempt}" / "work"
        read, write = os.pipe()
        with sandbox.slot(p) as uid:
            sandbox.fresh_workdir(work, uid)
            argv = [sys.executable, "-I", "-S", "-c", WRITER, str(write)]
            cmd, ids = sandbox.command(p, argv, [], work, uid, 2**24)
            proc, pid1 = sandbox.start(cmd, p, cwd=work, pass_fds=[write], **ids)
            os.close(write)
            os.read(read, 1)  # it writes
            sandbox.stop(proc, pid1, uid)
            os.set_blocking(read, False)
            while os.read(read, 2**16):  # what it wrote before it was stopped, then the end:
                pass  # a process still writing would raise BlockingIOError here
        os.close(read)


# ----------------------------------------------------------------------------- secrets

LEAK = 'raise RuntimeError("leaked: " + open({path!r}).read())'


def test_a_root_only_file_never_reaches_the_feedback(tmp_path, reference):
    if os.geteuid() != 0:  # CI runs as root
        pytest.skip("needs root: the secret must belong to another user than the worker's")
    needs("unprivileged uid")
    secret = tmp_path / "secret.txt"
    secret.write_text(f"TOP-SECRET-{secrets.token_hex(8)}")
    secret.chmod(0o600)
    tmp_path.chmod(0o755)  # only the file's own mode (and the sandbox) keeps it closed
    patches = [
        inject(LEAK.format(path=str(secret))),
        inject(LEAK.format(path="/etc/shadow"), RMSPROP),
    ]
    result = grade(make_submission(tmp_path / "s", patches), reference)
    shown = report.table(result) + json.dumps(report.gradescope(result))
    assert lost(result) == {"svm_loss": 1, "rmsprop": 1}, describe(result)
    assert secret.read_text() not in shown
    assert "leaked" not in shown and "root:" not in shown, shown
    for r in result.results:
        if r.feedback:
            assert re.search(r"(PermissionError|FileNotFoundError): \[Errno", r.feedback), shown


# ----------------------------------------------------------------------------- network

CALL_OUT = """
import socket
import sys
import time
def _udp():
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"escaped", ("127.0.0.1", {port}))
def _unix(address):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(address)
    s.sendall(b"escaped")
for _call in (_udp, lambda: _unix({path!r}), lambda: _unix({abstract!r})):
    try:
        _call()
    except OSError as _exc:
        print("blocked", _exc)
"""


def test_no_datagram_or_unix_connection_leaves_the_sandbox(tmp_path, reference):
    needs("no network")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tmp_path.chmod(0o777)  # the file system would let anyone reach the socket
    path, abstract = tmp_path / "grader.sock", f"\0cs231n-grader-{secrets.token_hex(4)}"
    listeners = []
    for address in (str(path), abstract):
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.bind(address)
        unix.listen()
        listeners.append(unix)
    path.chmod(0o777)
    code = CALL_OUT.format(port=udp.getsockname()[1], path=str(path), abstract=abstract)
    result = grade(make_submission(tmp_path / "s", [inject(code)]), reference)
    for sock in (udp, *listeners):
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):  # nothing arrived, no connection is waiting
            sock.recv(100) if sock is udp else sock.accept()
        sock.close()
    assert result.total == MAX_Q1_TO_Q4, describe(result)


# -------------------------------------------------------------------------------- disk

FILL = """
import os
_open = []
os.makedirs({folder!r}, exist_ok=True)
for _i in range(40):
    _f = open(os.path.join({folder!r}, f"junk{{_i}}"), "wb")
    _f.write(bytes(16 * 2**20))
    _f.flush()
    if {unlink}:  # deleted, but open: its blocks stay taken
        os.unlink(_f.name)
        _open.append(_f)
    else:
        _f.close()
"""


def test_writing_past_the_disk_limit_costs_only_that_function(tmp_path, reference):
    needs("disk bound")
    limits = runner.Limits(case_seconds=20.0, total_seconds=120.0, disk_bytes=64 * 2**20)
    patches = [inject(FILL.format(folder=".", unlink=False))]
    result = grade(make_submission(tmp_path / "s", patches), reference, limits)
    assert lost(result) == {"svm_loss": 1}, describe(result)
    assert result.status.startswith("ok"), result.status
    text = report.table(result)
    assert "No space left on device" in text or "disk limit of 64 MiB" in text, text


def test_files_deleted_while_open_count_against_the_disk_limit(tmp_path, reference):
    needs("tmpfs work folder")
    limits = runner.Limits(case_seconds=20.0, total_seconds=120.0, disk_bytes=64 * 2**20)
    patches = [inject(FILL.format(folder="out", unlink=True), RMSPROP)]
    result = grade(make_submission(tmp_path / "s", patches), reference, limits)
    assert lost(result) == {"rmsprop": 1}, describe(result)
    assert "rmsprop: OSError: [Errno 28] No space left on device" in report.table(result)


# ------------------------------------------------------------------------------ report


def test_the_sandbox_line_names_what_is_missing_and_require_sandbox_refuses(
    tmp_path, monkeypatch, capsys
):
    bare = sandbox.Plan(None, root=False, drop_uid=False, landlock=0, why_not=("no bwrap",))
    line = bare.describe(64, 2**28, "landlock unavailable")
    assert line.startswith("no namespaces") and "no process limit" in line
    assert "missing: namespaces, read-only mounts, tmpfs work folder, no network" in line
    monkeypatch.setattr(sandbox, "plan", lambda: bare)
    sub = make_submission(tmp_path / "s")
    with pytest.raises(SystemExit, match="--require-sandbox: .*namespaces"):
        cli.main([str(sub), "--require-sandbox", "--quiet"])
    assert "sandbox: no namespaces" in capsys.readouterr().out


def test_results_json_says_which_protections_were_active(tmp_path, reference):
    result = grade(make_submission(tmp_path / "s"), reference)
    data = report.gradescope(result)
    assert data["extra_data"]["sandbox"] == result.sandbox
    assert f"Sandbox: {result.sandbox}" in data["output"]
    assert data["extra_data"]["protections"] == sandbox.plan().active
    assert "no network" in data["extra_data"]["protections"]
    assert f"sandbox: {result.sandbox}" in report.table(result)
