"""The offline image set (images made from Debian packages, for hosts with no registry), built
from the installed package's recipe (compose/offline/build-images.sh, shipped as package data),
plus the Python wheels the app image is then built from with `--no-index`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mafa_cli import resources
from mafa_cli.errors import MafaError


def build_offline_images(on_line: Callable[[str], None]) -> Path:
    """Runs the recipe (it skips what is already built); returns where the wheels went."""
    script = resources.stack_dir() / "offline" / "build-images.sh"
    wheels = resources.wheels_dir()
    wheels.mkdir(parents=True, exist_ok=True)
    # The wheels are downloaded by this interpreter's pip, for the Python the images run (3.11).
    env = {**os.environ, "MAFA_WHEELS_DIR": str(wheels), "MAFA_PYTHON": sys.executable}
    try:
        process = subprocess.Popen(  # noqa: S603 (our own script, no shell)
            ["bash", str(script)],  # noqa: S607
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    except OSError as exc:
        raise MafaError(f"cannot run {script}: {exc.strerror}", hint="install bash") from None
    lines: list[str] = []
    assert process.stdout is not None  # noqa: S101 (stdout=PIPE above)
    for line in process.stdout:
        lines.append(line.rstrip())
        on_line(lines[-1])
    if process.wait() != 0:
        raise MafaError(
            "building the offline image set failed",
            hint="it needs root, debootstrap (apt-get install debootstrap), a Docker engine and "
            "a Debian mirror (MAFA_DEBIAN_MIRROR)",
            details="\n".join(lines[-15:]),
        )
    return wheels
