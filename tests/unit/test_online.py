"""The online list's sorted, packed blocks against a plain sorted set."""

import random

import msgpack

from chatroom.common.codec import pack
from chatroom.server.online import BLOCK, SortedNames


def test_sorted_names_stay_the_sorted_set_and_pack_to_it_through_splits_and_emptying() -> None:
    names, truth = SortedNames(), set[str]()
    rng = random.Random(3)
    pool = [f"user{n}" for n in range(8 * BLOCK)] + ["Zed", "élodie", "李"]

    def check() -> None:
        assert list(names) == sorted(truth) and len(names) == len(truth)
        assert msgpack.unpackb(pack(names.packed())) == sorted(truth)

    for phase, arriving in enumerate([0.9, 0.5, 0.1, 0.6]):  # grow, churn, empty, grow
        for step in range(12 * BLOCK):
            name = rng.choice(pool)
            if rng.random() < arriving:
                names.add(name)
                truth.add(name)
            else:
                names.discard(name)
                truth.discard(name)
            assert (name in names) == (name in truth)
            if step % 97 == 0:
                check()
        check()
        if phase == 0:
            assert len(names) > 2 * BLOCK  # enough for blocks to have been split
    for name in list(truth):
        names.discard(name)
    assert list(names) == [] and msgpack.unpackb(pack(names.packed())) == []
    names.add("again")
    assert msgpack.unpackb(pack(names.packed())) == ["again"]
