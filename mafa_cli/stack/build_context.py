"""What an image is built from, summed up in one hash, so `mafa up` rebuilds exactly when a file
that goes into the image changed (and not on every run, which costs seconds).

The files are those the build would send: the context minus what `.dockerignore` leaves out,
matched by the Docker SDK's own matcher (engine/local.py's files_sent), so the hash and the
build agree on every pattern Docker accepts.

`mafa up` sends every build as an archive made here (`context_archive`), never as a directory for
the engine to read, so a remote engine builds the same images. The app image's context is
assembled from the installed package (`app_context`), laid out as in a checkout, because an
installed mafa has no checkout to point at.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
from pathlib import Path
from typing import IO

from mafa_cli import resources
from mafa_cli.engine.local import files_sent
from mafa_cli.errors import BuildFailed

# Archive path -> the file on disk that goes there.
ContextFiles = dict[str, Path]


def dockerignore(context: Path) -> list[str]:
    """The patterns of the context's .dockerignore (none when it has none)."""
    ignore = context / ".dockerignore"
    if not ignore.exists():
        return []
    lines = (line.strip() for line in ignore.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def context_files(context: Path, dockerfile: str = "Dockerfile") -> list[str]:
    """Paths (relative, sorted) of the files a build of `context` would send."""
    return files_sent(str(context), dockerignore(context), dockerfile)


def directory_context(context: Path, dockerfile: str = "Dockerfile") -> ContextFiles:
    return {rel: context / rel for rel in context_files(context, dockerfile)}


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


# What locustfile.py needs in the load image (it runs there, not the rest of the CLI).
LOAD_MODULES = ("__init__.py", "locustfile.py", "plan.py", "web_guard.py")
LOAD_WHEELS = "load"  # the load image's wheels: a directory of their own in the wheels directory


def load_context() -> ContextFiles:
    """The load image's context (compose/load.Dockerfile), from the installed package: locust's
    pinned requirements, their wheels (if any: with a package index the build needs none), and
    the load's user classes."""
    package, stack = resources.package_dir(), resources.stack_dir()
    files: ContextFiles = {
        "compose/load.Dockerfile": stack / "load.Dockerfile",
        "compose/requirements-load.txt": stack / "requirements-load.txt",
    }
    files |= {f"mafa_cli/load/{name}": package / "load" / name for name in LOAD_MODULES}
    wheels = resources.wheels_dir() / LOAD_WHEELS
    for path in sorted(wheels.iterdir()) if wheels.is_dir() else []:
        if path.is_file() and path.name.endswith(".whl"):
            files[f"compose/wheels/{LOAD_WHEELS}/{path.name}"] = path
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
    files = directory_context(context, dockerfile)  # the Dockerfile counts even if ignored
    return files_hash(files, dockerfile, args)


def context_archive(files: ContextFiles) -> IO[bytes]:
    """The build context as a tar file (rewound), the form the engine's build API takes."""
    archive = tempfile.TemporaryFile()  # noqa: SIM115 (the caller reads it, then closes it)
    with tarfile.open(fileobj=archive, mode="w") as tar:
        # Every directory as its own entry: compose/wheels must exist even with no wheels in it.
        directories = {p.as_posix() for rel in files for p in Path(rel).parents} - {"."}
        if "compose/app.Dockerfile" in files:
            directories.add("compose/wheels")
        if "compose/load.Dockerfile" in files:
            directories.add(f"compose/wheels/{LOAD_WHEELS}")
        for directory in sorted(directories):
            entry = tarfile.TarInfo(directory)
            entry.type, entry.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(entry)
        for rel in sorted(files):
            tar.add(files[rel], arcname=rel, recursive=False)
    archive.seek(0)
    return archive
