"""A child process of the grader: started fresh, spoken to in messages, killed when it is late.

Both sides of the grader use it: nbgrader's process starts the reference process, and the
reference process starts the process that runs a submission's code. The child runs a module of
this package (`python -m minnet.grading.NAME`) in an empty folder of its own, so no file next
to a submission can stand in for numpy or minnet there.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from typing import BinaryIO

import numpy as np

from . import wire


class ChildGone(BaseException):  # not an Exception: see wire.WireError
    """The child ended, or sent something that is not a message; `late` if we ended it.

    Its text completes "the process ...": "ended (exit code 0)"."""

    def __init__(self, what: str, late: bool) -> None:
        super().__init__(what)
        self.late = late


class Child:
    """`python -m minnet.grading.<module>` with pipes, and a time limit on every exchange."""

    def __init__(self, module: str, stderr: BinaryIO | int = subprocess.DEVNULL,
                 group: bool = False) -> None:
        self.folder = tempfile.mkdtemp(prefix="minnet-grading-")
        self.group = group and os.name == "posix"
        env = {k: v for k, v in os.environ.items() if k != "MINNET_DEBUG"}
        env["MPLBACKEND"] = "Agg"  # no window, whatever a cell imports
        # with group=True, a process group of its own, which its own children join: stopping it
        # stops whatever they started too (on POSIX)
        self.proc = subprocess.Popen([sys.executable, "-m", f"minnet.grading.{module}"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr, cwd=self.folder, env=env,
                                     start_new_session=self.group)
        self.deadline: float | None = None
        self.killed = False
        threading.Thread(target=self._watch, daemon=True).start()

    def __deepcopy__(self, memo):
        return self  # one process, however many copies of a layer point at it

    def ask(self, header: dict, arrays=(), seconds: float = 60.0) -> tuple[dict, list]:
        """Send a message and wait at most `seconds` for the answer."""
        with self.limit(seconds):
            self.send(header, arrays)
            return self.receive()

    def send(self, header: dict, arrays=()) -> None:
        try:
            wire.send(self.proc.stdin, header, list(arrays))
        except OSError as e:  # a closed pipe: the child has ended
            raise self.gone(e) from None

    def receive(self) -> tuple[dict, list[np.ndarray]]:
        try:
            return wire.receive(self.proc.stdout)
        except (EOFError, OSError, wire.WireError) as e:
            raise self.gone(e) from None

    @contextmanager
    def limit(self, seconds: float):
        """Kill the child if the block takes longer than `seconds`."""
        self.deadline = time.monotonic() + seconds
        try:
            yield
        finally:
            self.deadline = None

    def gone(self, cause: Exception) -> ChildGone:
        self.kill()
        code = self.proc.wait()
        if self.killed:
            return ChildGone("took too long and was stopped", late=True)
        if isinstance(cause, wire.WireError):
            return ChildGone(f"sent something that is not an answer ({cause})", late=False)
        return ChildGone(f"ended (exit code {code})", late=False)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            if self.group:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.kill()
        except (ProcessLookupError, PermissionError):
            pass  # already gone

    def close(self) -> None:
        self.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def _watch(self) -> None:
        while self.proc.poll() is None:
            time.sleep(0.05)
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.killed = True
                self.kill()


def take_over_stdio() -> tuple[BinaryIO, BinaryIO]:
    """In a child: the channel to the parent, moved off stdin and stdout.

    Whatever the code run here prints (or reads) then goes to the null device, not into the
    messages.
    """
    channel = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    return channel
