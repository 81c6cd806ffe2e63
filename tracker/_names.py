"""Generated run ids (short, lowercase alphanumeric) and readable default run names."""

from __future__ import annotations

import os

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 8

_ADJECTIVES = (
    "amber",
    "bold",
    "brisk",
    "calm",
    "clever",
    "cosmic",
    "crisp",
    "daring",
    "dawn",
    "eager",
    "fancy",
    "gentle",
    "golden",
    "hardy",
    "humble",
    "icy",
    "jolly",
    "keen",
    "lively",
    "lucky",
    "misty",
    "noble",
    "olive",
    "proud",
    "quiet",
    "rapid",
    "royal",
    "rustic",
    "silent",
    "smooth",
    "solar",
    "sturdy",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wise",
    "young",
    "zesty",
    "bright",
)
_NOUNS = (
    "aurora",
    "badger",
    "breeze",
    "canyon",
    "cedar",
    "comet",
    "coral",
    "delta",
    "dune",
    "ember",
    "falcon",
    "fern",
    "fjord",
    "glacier",
    "grove",
    "harbor",
    "heron",
    "lagoon",
    "lantern",
    "maple",
    "meadow",
    "meteor",
    "nebula",
    "oasis",
    "orchid",
    "otter",
    "pebble",
    "pine",
    "prairie",
    "quartz",
    "river",
    "sparrow",
    "spruce",
    "summit",
    "thunder",
    "tundra",
    "valley",
    "willow",
    "wave",
    "zephyr",
)


def _random_below(limit: int) -> int:
    return int.from_bytes(os.urandom(8), "big") % limit


def base36(value: int, length: int) -> str:
    """The ``length`` lowest base-36 digits of ``value``, least significant first: a valid run id.

    >>> base36(36 + 35, 3)
    'z10'
    """
    chars = []
    for _ in range(length):
        value, digit = divmod(value, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def new_run_id(length: int = ID_LENGTH) -> str:
    """Eight base-36 characters by default: 2.8e12 values, so collisions in one project are negligible."""
    return base36(_random_below(len(_ALPHABET) ** length), length)


def new_run_name(run_id: str) -> str:
    """A readable name such as ``swift-heron-3k9x``; the id suffix keeps names distinct."""
    return f"{_ADJECTIVES[_random_below(len(_ADJECTIVES))]}-{_NOUNS[_random_below(len(_NOUNS))]}-{run_id[:4]}"
