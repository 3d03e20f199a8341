"""What an image is built from, summed up in one hash, so `mafa up` rebuilds exactly when a file
that goes into the image changed (and not on every run, which costs seconds).

The files are those the build would send: the context minus what `.dockerignore` leaves out.
Supported `.dockerignore` forms: `name`, `dir/`, globs (`*`, `?`, `[..]`), `**/name`, and `!`
exceptions, last match winning, as Docker applies them.

`mafa up` sends every build as an archive made here (`context_archive`), never as a directory for
the engine to read, so a remote engine builds the same images. The app image's context is
assembled from the installed package (`app_context`), laid out as in a checkout, because an
installed mafa has no checkout to point at.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from fnmatch import fnmatchcase
from pathlib import Path
from typing import IO

from mafa_cli import resources
from mafa_cli.errors import BuildFailed

# Archive path -> the file on disk that goes there.
ContextFiles = dict[str, Path]


def _rules(context: Path) -> list[tuple[bool, str]]:
    ignore = context / ".dockerignore"
    if not ignore.exists():
        return []
    rules = []
    for line in ignore.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        rules.append((negated, pattern))
    return rules


def _matches(path: str, pattern: str) -> bool:
    """A pattern matches a path, or a directory above it (which takes everything inside)."""
    parts = path.split("/")
    if pattern.startswith("**/"):
        rest = pattern[3:]
        return any(_matches("/".join(parts[i:]), rest) for i in range(len(parts)))
    depth = pattern.count("/") + 1
    return len(parts) >= depth and fnmatchcase("/".join(parts[:depth]), pattern)


def is_ignored(path: str, rules: list[tuple[bool, str]]) -> bool:
    ignored = False
    for negated, pattern in rules:
        if _matches(path, pattern):
            ignored = not negated
    return ignored


def context_files(context: Path) -> list[str]:
    """Paths (relative, sorted) of the files a build of `context` would send."""
    rules = _rules(context)
    exceptions = [p for negated, p in rules if negated]
    found = []
    for directory, subdirs, files in os.walk(context):
        rel_dir = os.path.relpath(directory, context)
        prefix = "" if rel_dir == "." else rel_dir + "/"
        # Do not walk into an ignored directory unless an exception may reach inside it.
        subdirs[:] = [
            d
            for d in subdirs
            if not is_ignored(prefix + d, rules)
            or any(e.startswith(prefix + d + "/") or e.startswith("**") for e in exceptions)
        ]
        found += [prefix + f for f in files if not is_ignored(prefix + f, rules)]
    return sorted(found)


def directory_context(context: Path) -> ContextFiles:
    return {rel: context / rel for rel in context_files(context)}


def app_context(args: dict[str, str] | None = None) -> ContextFiles:
    """The app image's context from the installed package, with the checkout's layout (what
    compose/app.Dockerfile copies): the Dockerfile, the pinned requirements, the wheels, and
    mafa_cli's __init__.py and services/ (nothing else of the CLI goes into the image)."""
    package, stack = resources.package_dir(), resources.stack_dir()
    files: ContextFiles = {
        "compose/app.Dockerfile": stack / "app.Dockerfile",
        "compose/requirements-services.txt": stack / "requirements-services.txt",
        "mafa_cli/__init__.py": package / "__init__.py",
    }
    services = package / "services"
    for path in sorted(services.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[f"mafa_cli/services/{path.relative_to(services).as_posix()}"] = path
    wheels = resources.wheels_dir()
    for path in sorted(wheels.iterdir()) if wheels.is_dir() else []:
        if path.is_file() and not path.name.startswith("."):
            files[f"compose/wheels/{path.name}"] = path
    if "--no-index" in (args or {}).get("PIP_ARGS", "") and not any(
        rel.endswith(".whl") for rel in files
    ):
        raise BuildFailed(
            f"the app image is built offline, but {wheels} holds no wheels",
            hint="run `mafa images` once (it builds the offline image set and fetches the wheels), "
            "or point MAFA_WHEELS_DIR at a directory of them",
        )
    return files


def is_package_root(context: Path) -> bool:
    """True for the app image's context as compose.yaml names it (`..` from compose.yaml): the
    checkout's root, or the installed package's directory."""
    return context.resolve() == resources.stack_dir().resolve().parent


def files_hash(files: ContextFiles, dockerfile: str, args: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(repr(sorted(args.items())).encode())
    digest.update(dockerfile.encode() + b"\0")
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0")
        digest.update(files[rel].read_bytes())
    return digest.hexdigest()


def context_hash(context: Path, dockerfile: str, args: dict[str, str]) -> str:
    files = directory_context(context)
    files.setdefault(dockerfile, context / dockerfile)  # counts even if .dockerignore hides it
    return files_hash(files, dockerfile, args)


def context_archive(files: ContextFiles) -> IO[bytes]:
    """The build context as a tar file (rewound), the form the engine's build API takes."""
    archive = tempfile.TemporaryFile()  # noqa: SIM115 (the caller reads it, then closes it)
    with tarfile.open(fileobj=archive, mode="w") as tar:
        # Every directory as its own entry: compose/wheels must exist even with no wheels in it.
        directories = {p.as_posix() for rel in files for p in Path(rel).parents} - {"."}
        if "compose/app.Dockerfile" in files:
            directories.add("compose/wheels")
        for directory in sorted(directories):
            entry = tarfile.TarInfo(directory)
            entry.type, entry.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(entry)
        for rel in sorted(files):
            tar.add(files[rel], arcname=rel, recursive=False)
    archive.seek(0)
    return archive
