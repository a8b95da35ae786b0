"""Picking a free value (an address, a VLAN, a VNI) out of ranges, some of them taken."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from itertools import islice

from stratus.network import retry

# After losing a race for the lowest free value, pick among this many at random, so that
# concurrent allocators stop choosing the same one.
CONTENDED_WINDOW = 32


def free_in_ranges(ranges: Iterable[tuple[int, int]], taken: Iterable[int]) -> Iterator[int]:
    """The values of the inclusive ranges that are not taken, lowest first, lazily (an
    IPv6 /64 is never enumerated beyond what is asked)."""
    ordered = sorted(set(taken))
    for lo, hi in sorted(ranges):
        current = lo
        for held in ordered:
            if held < current:
                continue
            if held > hi:
                break
            while current < held:
                yield current
                current += 1
            current = held + 1
        while current <= hi:
            yield current
            current += 1


def pick_free(ranges: Iterable[tuple[int, int]], taken: Iterable[int]) -> int | None:
    """The lowest free value on a transaction's first run, a random one of the lowest few
    on later runs; None when every value is taken."""
    window = 1 if retry.attempt() == 1 else CONTENDED_WINDOW
    candidates = list(islice(free_in_ranges(ranges, taken), window))
    return random.choice(candidates) if candidates else None
