"""What an image is built from, summed up in one hash, so `mafa up` rebuilds exactly when a file
that goes into the image changed (and not on every run, which costs seconds).

The files are those the build would send: the context minus what `.dockerignore` leaves out.
Supported `.dockerignore` forms: `name`, `dir/`, globs (`*`, `?`, `[..]`), `**/name`, and `!`
exceptions, last match winning, as Docker applies them.
"""

from __future__ import annotations

import hashlib
import os
from fnmatch import fnmatchcase
from pathlib import Path


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


def context_hash(context: Path, dockerfile: str, args: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(repr(sorted(args.items())).encode())
    digest.update((context / dockerfile).read_bytes())
    for rel in context_files(context):
        digest.update(rel.encode() + b"\0")
        digest.update((context / rel).read_bytes())
    return digest.hexdigest()
