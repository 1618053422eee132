"""Linux namespaces for the grading sandbox: read-only file systems, own PIDs, no network.

See ``docs/instructors.md`` (the sandbox) for what they protect and what runs without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

#: Shell code run inside the sandbox's new namespaces before Python: keep the sandbox's folder
#: ($1) writable, make every other mount read-only, drop all capabilities, then run the command.
_ISOLATE = r"""
rw="$1"; shift
mount --bind "$rw" "$rw" || exit 111
for m in $(awk '{print $5}' /proc/self/mountinfo); do
  [ "$m" = "$rw" ] && continue
  case "$m" in /proc|/proc/*) continue;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null
done
touch /.resnets-write-test 2>/dev/null && exit 112
cd "$PWD" || exit 113
exec setpriv --bounding-set=-all --inh-caps=-all --no-new-privs -- "$@"
"""


def _unshare_args() -> list[str]:
    args = ["unshare", "--mount", "--pid", "--fork", "--net", "--kill-child", "--mount-proc"]
    if os.geteuid() != 0:
        args.insert(1, "--map-root-user")
    return args


_ISOLATION: dict[str, bool] = {}


def isolation_available() -> bool:
    """Whether the sandbox can run in its own mount, PID and network namespaces (``unshare``
    and ``setpriv`` from util-linux; root, or unprivileged user namespaces), with every file
    system read-only but its own folder. Checked once per process."""
    if "ok" not in _ISOLATION:
        # RESNETS_SANDBOX_ISOLATION=off runs the sandbox without namespaces (to try the guard).
        ok = bool(shutil.which("unshare") and shutil.which("setpriv"))
        ok = ok and os.environ.get("RESNETS_SANDBOX_ISOLATION", "").lower() != "off"
        if ok:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    done = subprocess.run(
                        [
                            *_unshare_args(),
                            "--",
                            "sh",
                            "-c",
                            _ISOLATE,
                            "sh",
                            tmp,
                            "sh",
                            "-c",
                            f"touch {tmp}/ok",
                        ],
                        capture_output=True,
                        timeout=30,
                    )
                    ok = done.returncode == 0 and (Path(tmp) / "ok").exists()
                except (OSError, subprocess.SubprocessError):
                    ok = False
        _ISOLATION["ok"] = ok
    return _ISOLATION["ok"]


def isolated(command: list[str], writable: Path) -> list[str]:
    """``command`` wrapped to run in new namespaces with only ``writable`` writable."""
    return [*_unshare_args(), "--", "sh", "-c", _ISOLATE, "sh", str(writable), *command]
