"""The deletion guard (contract §5.4), shared by every sync that removes rows.

A PIMS that answers 200 with nothing, or with a calendar missing most of what we hold, is far
more likely broken than emptied: decide before anything is written, and write nothing.
"""

from __future__ import annotations


def guard_trips(live: int, deleting: int, pims_empty: bool) -> bool:
    """An empty PIMS answer with L ≥ 3 live rows, or L ≥ 4 and more than half to be removed."""
    return (pims_empty and live >= 3) or (live >= 4 and deleting * 2 > live)
