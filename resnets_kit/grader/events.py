"""The sandbox's event protocol, read by the grader: one JSON object per line.

The sandbox (:mod:`resnets_kit.grader.sandbox`) writes ``{"ready": true}``, ``{"start": name,
"step": "define" | "check"}``, ``{"case": name, "key": ..., "entry": ...}`` and ``{"done": name,
"record": ...}``. The file is written by the process that runs student code, so it is read as
forgeable data: :class:`RecordTracker` decides which records count.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path


class EventReader:
    """Reads the sandbox's report incrementally: each call parses only the lines added since the
    last one (the file may grow to the file-size limit with junk). Lines that are not JSON
    objects are skipped."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.rest = b""
        self.events: list[dict] = []

    def read(self) -> list[dict]:
        """All events so far."""
        try:
            # a regular file, not a link or a pipe: the sandbox owns its folder and could point
            # this at any file, or make reading it block
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with open(fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    return self.events
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return self.events
        self.offset += len(data)
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        for line in lines:
            if line.startswith(b"{"):
                with contextlib.suppress(ValueError, RecursionError):  # junk, or nested too deep
                    event = json.loads(line)
                    if isinstance(event, dict):
                        self.events.append(event)
        return self.events


class RecordTracker:
    """Picks the records out of a sandbox's events, one event at a time.

    The report is written by the process that runs student code: a record counts only when it
    comes right after the start of that function's own check, for a function this run checks,
    and only its first one (a forged record is plain data, checked like any other). Case
    entries reported on the way (``{"case": ...}``) are kept the same way, at most
    :data:`MAX_CASES` per function.
    """

    MAX_CASES = 8

    def __init__(self, check: list[str]):
        self.check = list(check)
        self.records: dict[str, dict] = {}
        self.cases: dict[str, dict[str, dict]] = {}
        self._current = None

    def feed(self, event: dict) -> tuple | None:
        """Take the next event; return ``("record", name)`` if it brought a new record,
        ``("case", name, key)`` if it brought a new case entry, else None."""
        if "start" in event:
            self._current = (event.get("start"), event.get("step"))
            return None
        name = event.get("done", event.get("case"))
        if not isinstance(name, str) or self._current != (name, "check") or name not in self.check:
            return None
        if "done" in event:
            if name in self.records:
                return None
            record = event.get("record")
            self.records[name] = record if isinstance(record, dict) and record else {}
            return ("record", name)
        cases = self.cases.setdefault(name, {})
        key, entry = event.get("key"), event.get("entry")
        if name in self.records or not isinstance(key, str) or not isinstance(entry, dict):
            return None
        if key in cases or len(cases) >= self.MAX_CASES:
            return None
        cases[key] = entry
        return ("case", name, key)
