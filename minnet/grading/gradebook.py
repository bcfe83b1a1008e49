"""The gradebook as it was before a submission's code ran, put back if that code changed it.

A submission's code runs as the user who grades, so it can open gradebook.db and write itself a
manual score, which nbgrader would then prefer to any autograded one. Nothing of nbgrader writes
the gradebook between the moment before the submission's code starts and the moment its points
are saved: any change in between is the submission's.
"""

from __future__ import annotations

import os
from pathlib import Path

SIDECARS = ("", "-journal", "-wal", "-shm")  # SQLite's database file and the files beside it


class Guard:
    """A snapshot of an SQLite gradebook's files; restore() puts them back if they changed."""

    def __init__(self, db_url: str) -> None:
        prefix = "sqlite:///"
        self.path = Path(db_url[len(prefix):]) if db_url.startswith(prefix) else None
        self.saved = {f: _read(f) for f in self.files()}

    def files(self) -> list[Path]:
        return [] if self.path is None else [Path(f"{self.path}{s}") for s in SIDECARS]

    def restore(self) -> bool:
        """Put every file back as it was; True if any had changed."""
        changed = [f for f, saved in self.saved.items() if _read(f) != saved]
        for f in changed:
            if self.saved[f] is None:
                f.unlink()
                continue
            spare = f.with_name(f.name + ".minnet-restore")
            spare.write_bytes(self.saved[f])
            os.replace(spare, f)  # even if the file itself was made read-only
        return bool(changed)

    @property
    def guarded(self) -> bool:
        return self.path is not None


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
