"""Node identity: every process shows a name and one of ten colours, as in the original demo."""

from __future__ import annotations

import hashlib
from functools import lru_cache

# Ten colours that read well as pill backgrounds with white text (CSS classes node-0 .. node-9).
PALETTE: tuple[str, ...] = (
    "#d62728",
    "#1f77b4",
    "#2ca02c",
    "#9467bd",
    "#e377c2",
    "#8c564b",
    "#17becf",
    "#ff7f0e",
    "#7f7f7f",
    "#bcbd22",
)


@lru_cache(maxsize=1024)  # called for every row of every page; the names are few
def colour_index(node_name: str) -> int:
    """The node's colour, derived from its name so that every page and the dashboard agree on it
    without sharing state (the name itself is random per process)."""
    digest = hashlib.sha256(node_name.encode("utf-8")).digest()
    return digest[0] % len(PALETTE)


def colour_of(node_name: str) -> str:
    return PALETTE[colour_index(node_name)]
