"""One run of the worker, from the grader's side: ask for each case, time it, read its reply.

The grader asks for one case at a time (channel.py) and starts that case's clock when it
asks: only its own clock decides a timeout, and only a reply to that request (its case and
nonce) counts; every other frame is discarded. The grader reads the pipes with ``select``
and never more than the frame it waits for, so its own memory stays bounded whatever the
worker writes. The run ends when every case has a reply, or the worker dies, passes a bound
(time, disk, memory, a malformed reply), or stops replying; ``Outcome`` says which case was
running then, and why it stopped.
"""

from __future__ import annotations

import os
import secrets
import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tools.grade import channel

POLL_SECONDS = 0.1  # how often the grader checks its clock and the disk while it waits


@dataclass
class Outcome:
    reports: dict[str, dict] = field(default_factory=dict)  # case -> the worker's report
    culprit: str | None = None  # the case that was running when the worker stopped
    why: str | None = None  # why it stopped (None: it did not stop, or it died: see code)
    note: str = "worker did not start"  # what the worker said it applied (Landlock)
    log: bytes = b""  # the last bytes of its stdout and stderr


class _Stopped(Exception):
    """The worker must be stopped; the message says why."""


@dataclass
class Pipes:
    """The grader's ends: requests (write), replies and log (read)."""

    requests: int
    replies: int
    log: int
    reader: channel.Reader = field(default_factory=channel.Reader)
    tail: bytearray = field(default_factory=bytearray)
    closed: bool = False  # the reply pipe reached its end: no process of the worker holds it
    log_open: bool = True

    def close(self) -> None:
        for fd in (self.requests, self.replies, self.log):
            os.close(fd)


def converse(
    pipes: Pipes,
    todo: list[str],
    max_payload: dict[str, int],
    case_seconds: float,
    deadline: float,
    over_bound: Callable[[], str | None],
) -> Outcome:
    """Ask for each case of ``todo`` in turn; collect the replies until the worker stops."""
    outcome = Outcome()
    try:
        pipes.reader.max_payload = 0
        hello = _wait(pipes, lambda h: h.get("kind") == "hello", case_seconds, deadline, over_bound)
        outcome.note = str(hello[0].get("note", ""))[:200]
        for case in todo:
            outcome.culprit = case
            nonce = secrets.randbits(63)
            pipes.reader.max_payload = max_payload[case]
            channel.request(pipes.requests, case, nonce)

            asked = {"kind": "result", "case": case, "nonce": nonce}

            def mine(head: dict, asked=asked) -> bool:
                return all(head.get(key) == value for key, value in asked.items())

            head, payload = _wait(pipes, mine, case_seconds, deadline, over_bound)
            outcome.reports[case] = report(head, payload)
        outcome.culprit = None
    except _Stopped as stop:
        outcome.why = str(stop) or None
    except (BrokenPipeError, channel.ProtocolError) as exc:
        outcome.why = f"stopped: {exc}" if isinstance(exc, channel.ProtocolError) else None
    outcome.log = bytes(pipes.tail)
    return outcome


def _wait(pipes: Pipes, wanted, case_seconds: float, deadline: float, over_bound) -> tuple:
    """The first frame for which ``wanted(head)`` holds; others are discarded."""
    start = time.monotonic()
    while True:
        now = time.monotonic()
        if now > deadline:
            raise _Stopped("not run: the submission used up its grading time")
        if now - start > case_seconds:
            raise _Stopped(f"timed out after {case_seconds:.0f} s (an endless loop?)")
        _within(over_bound)
        if pipes.closed:  # the worker is gone: only its exit status is left to say why
            raise _Stopped()
        timeout = min(POLL_SECONDS, deadline - now, start + case_seconds - now)
        watched = [pipes.replies, pipes.log] if pipes.log_open else [pipes.replies]
        ready, _, _ = select.select(watched, [], [], max(0.0, timeout))
        if pipes.log in ready:
            _drain_log(pipes)
        if pipes.replies in ready:
            data = os.read(pipes.replies, min(pipes.reader.want(), 2**20))
            pipes.closed = not data
            for head, payload in pipes.reader.feed(data):
                if wanted(head):
                    _within(over_bound)
                    return head, payload


def _within(over_bound: Callable[[], str | None]) -> None:
    """A reply counts only if the sandbox is within its bounds when it arrives: a bound the
    grader polls (disk, memory where no cgroup counts) cannot be passed between two looks
    by a case that then answers at once."""
    past = over_bound()
    if past:
        raise _Stopped(past)


def _drain_log(pipes: Pipes) -> None:
    data = os.read(pipes.log, 65536)
    pipes.log_open = bool(data)
    pipes.tail += data
    del pipes.tail[: -channel.LOG_TAIL]


def report(head: dict, payload: bytes) -> dict:
    """The worker's report on one case: ``error`` (text or None), ``environment`` (the
    worker's reading of an error as the machine's fault, text or None: ``envfaults``),
    ``bad_outputs``, ``outputs``."""
    error, environment = head.get("error"), head.get("environment")
    bad = head.get("bad_outputs")
    result = {
        "error": None if error is None else str(error),
        "environment": str(environment)[:300] if environment else None,
        "bad_outputs": {str(k): str(v) for k, v in bad.items()} if isinstance(bad, dict) else {},
        "outputs": {},
    }
    if result["error"] is None:
        try:
            result["outputs"] = channel.decode_arrays(head, payload)
        except channel.ProtocolError as exc:
            result["error"] = f"its outputs could not be read: {exc}"
    return result
