"""The hub alone, with fake recipients: who hears of whom, and when."""

import asyncio
import random

import msgpack

from chatroom.common.codec import FrameDecoder, pack
from chatroom.common.messages import Framed, MessagePush, Relayed
from chatroom.server.hub import LOBBY_CONV, Hub, presence_window
from tests.conftest import WAIT


class Listener:
    """A stand-in for a connection: records the envelopes the hub sends it."""

    def __init__(self, user: str, features: frozenset[str] = frozenset()) -> None:
        self.user: str | None = user
        self.features = features
        self.envelopes: list[dict] = []
        self._decoder = FrameDecoder(max_frame=1 << 20)
        self.heard = asyncio.Event()

    def send_frame(self, frame: bytes) -> None:
        self.envelopes.extend(self._decoder.feed(frame))
        self.heard.set()

    async def next_news(self) -> dict:
        async with asyncio.timeout(WAIT):
            await self.heard.wait()
        self.heard.clear()
        return self.envelopes.pop(0)


async def test_in_and_out_within_the_window_is_no_news_to_those_who_never_saw_it() -> None:
    hub = Hub()
    amy = Listener("amy")
    hub.join(amy)
    hub.join(Listener("bob"))
    batch = (await amy.next_news())["data"]
    assert batch == {"online": ["amy", "bob"], "offline": [], "statuses": {}}
    carol = Listener("carol")
    hub.join(carol)
    hub.leave(carol)
    hub.join(Listener("dave"))
    news = await amy.next_news()
    dave = {"username": "dave", "online": True, "status": "online", "status_text": ""}
    assert (news["type"], news["data"]) == ("presence", dave)


async def test_someone_given_the_list_mid_window_hears_how_it_ended() -> None:
    """dave logs in while carol is briefly online: his list has carol, so he must be told
    she left, though to everyone else her visit was no news."""
    hub = Hub()
    hub.join(Listener("bob"))
    await asyncio.sleep(0)  # bob is on his own: nothing to announce to anyone yet
    carol, dave = Listener("carol"), Listener("dave")
    hub.join(carol)
    hub.join(dave)
    assert hub.online() == ["bob", "carol", "dave"]  # the list in dave's login reply
    hub.leave(carol)
    news = await dave.next_news()
    assert news["type"] == "presence_batch"
    assert "carol" in news["data"]["offline"]


def texts(listener: Listener) -> list[str]:
    return [e["data"]["text"] for e in listener.envelopes if e["type"] == "message"]


async def test_a_room_reaches_its_members_sessions_that_know_rooms_and_no_one_else() -> None:
    hub = Hub()
    hub.announce_presence = False
    rooms = frozenset({"rooms"})
    amy, amy_old, bob, carol = (
        Listener("amy", rooms),
        Listener("amy"),  # a first-version client of amy's
        Listener("bob", rooms),
        Listener("carol", rooms),
    )
    for listener in (amy, amy_old, bob, carol):
        hub.join(listener)
    hub.set_rooms({7: {"amy", "bob"}})
    push = MessagePush(1, "bob", None, "in room 7", 0.0, room="seven")
    hub.to_room(7, push, exclude="bob")
    await asyncio.sleep(0)  # a room's pushes are written at the end of this turn of the loop
    assert (texts(amy), texts(amy_old), texts(bob), texts(carol)) == (["in room 7"], [], [], [])
    hub.remove_member(7, "amy")
    hub.to_room(7, MessagePush(2, "carol", None, "after", 0.0, room="seven"))
    await asyncio.sleep(0)
    assert texts(amy) == ["in room 7"] and texts(bob) == ["after"]
    hub.to_room(LOBBY_CONV, MessagePush(3, "amy", None, "lobby", 0.0, room="lobby"), exclude="amy")
    await asyncio.sleep(0)  # the lobby's too
    assert (texts(amy_old), texts(bob)[-1], texts(carol)) == ([], "lobby", ["lobby"])


def test_carbons_go_to_the_senders_other_sessions_that_asked() -> None:
    hub = Hub()
    hub.announce_presence = False
    phone, laptop, old = (
        Listener("amy", frozenset({"carbons"})),
        Listener("amy", frozenset({"carbons", "rooms"})),
        Listener("amy"),
    )
    for listener in (phone, laptop, old):
        hub.join(listener)
    push = MessagePush(1, "amy", "bob", "psst", 0.0)
    hub.carbons("amy", push, origin=phone, in_room=False)
    assert (texts(phone), texts(laptop), texts(old)) == ([], ["psst"], [])
    hub.carbons("amy", push, origin=laptop, in_room=True)  # the phone knows no rooms
    assert texts(phone) == []


def test_a_message_to_its_recipient_and_the_senders_other_sessions_is_encoded_once() -> None:
    encoded: list[int] = []

    class Counted(MessagePush):
        def frame(self) -> bytes:
            encoded.append(self.mid)
            return super().frame()

    hub = Hub()
    hub.announce_presence = False
    phone, laptop = Listener("amy", frozenset({"carbons"})), Listener("amy", frozenset({"carbons"}))
    bob = Listener("bob")
    for listener in (phone, laptop, bob):
        hub.join(listener)
    push = Framed(Counted(7, "amy", "bob", "psst", 0.0))
    assert hub.to_users(["bob"], push, skip=phone)
    hub.carbons("amy", push, origin=phone, in_room=False)
    assert encoded == [7]
    assert (texts(phone), texts(laptop), texts(bob)) == ([], ["psst"], ["psst"])


def test_a_push_relayed_by_another_node_is_written_as_it_came() -> None:
    push = MessagePush(9, "amy", "bob", "hi", 1.0)
    relayed = Relayed(push.frame(), push.message_mid())
    hub = Hub()
    hub.announce_presence = False
    bob = Listener("bob")
    hub.join(bob)
    assert hub.to_users(["bob"], relayed)
    assert bob.envelopes == [push.envelope()]
    assert (relayed.envelope(), relayed.message_mid()) == (push.envelope(), 9)


async def test_a_rooms_listeners_follow_sessions_and_membership_in_any_order() -> None:
    hub = Hub()
    hub.announce_presence = False
    rooms = frozenset({"rooms"})
    hub.set_rooms({7: {"amy"}})
    first = Listener("amy", rooms)
    hub.join(first)  # a member who comes online
    bob = Listener("bob", rooms)
    hub.join(bob)
    hub.add_member(7, "bob")  # online, then a member
    hub.to_room(7, MessagePush(1, "x", None, "one", 0.0, room="seven"))
    hub.leave(first)
    second = Listener("amy", rooms)
    hub.join(second)
    hub.remove_member(7, "bob")
    hub.to_room(7, MessagePush(2, "x", None, "two", 0.0, room="seven"))
    await asyncio.sleep(0)
    assert (texts(first), texts(second), texts(bob)) == (["one"], ["two"], ["one"])
    assert hub.member_count(7) == 1 and hub.is_member(7, "amy") and not hub.is_member(7, "bob")


async def test_the_online_list_kept_as_users_come_go_and_hide_is_the_sorted_truth() -> None:
    """The login reply's list is kept in order as it changes (not sorted per login):
    after any mix of joins, leaves and statuses it is what sorting everyone would give."""
    hub = Hub()
    rng = random.Random(7)
    sessions: list[Listener] = []
    choices = [("online", ""), ("away", ""), ("invisible", ""), ("online", "in a meeting")]
    for _ in range(2000):
        roll = rng.random()
        if roll < 0.5 or not sessions:
            sessions.append(Listener(f"user{rng.randrange(300)}"))
            hub.join(sessions[-1])
        elif roll < 0.85:
            hub.leave(sessions.pop(rng.randrange(len(sessions))))
        else:
            who = rng.choice(sessions).user
            assert who is not None
            hub.set_status(who, *rng.choice(choices))
        assert hub.online() == sorted(u for u in {s.user for s in sessions} if hub.is_online(u))
        # What a reply carries: the names, and the status of each not plainly online.
        now = hub.online_now()
        assert msgpack.unpackb(pack(now["online"])) == hub.online()
        assert now["statuses"] == {
            user: {"status": hub.shown(user)[0], "status_text": hub.shown(user)[1]}
            for user in hub.online()
            if hub.shown(user) != ("online", "")
        }
    hub.close()


def test_the_presence_window_grows_with_the_sessions_to_tell() -> None:
    assert presence_window(0) == presence_window(250) == 0.05
    assert presence_window(1_000) == 0.2
    assert presence_window(10_000) == 2.0
    assert presence_window(1_000_000) == 2.0


class Counting(Listener):
    """A listener that also counts the hub's calls to it."""

    def __init__(self, user: str, features: frozenset[str] = frozenset()) -> None:
        super().__init__(user, features)
        self.calls = 0

    def send_frame(self, frame: bytes) -> None:
        self.calls += 1
        super().send_frame(frame)


def lobby(mid: int, sender: str) -> MessagePush:
    return MessagePush(mid, sender, None, f"m{mid}", 0.0, room="lobby")


def in_seven(mid: int, sender: str) -> MessagePush:
    return MessagePush(mid, sender, None, f"m{mid}", 0.0, room="seven")


def hub_with_room_seven(sessions: tuple[Listener, ...], members: set[str]) -> Hub:
    """A hub (presence off) with `sessions` online and room 7 of `members`."""
    hub = Hub()
    hub.announce_presence = False
    for session in sessions:
        hub.join(session)
    hub.set_rooms({7: members})
    return hub


async def test_lobby_pushes_of_one_turn_reach_each_session_in_one_call_in_order() -> None:
    hub = Hub()
    hub.announce_presence = False
    amy, bob, carol = Counting("amy"), Counting("bob"), Counting("carol")
    for listener in (amy, bob, carol):
        hub.join(listener)
    for mid in range(1, 301):
        hub.to_room(
            LOBBY_CONV, lobby(mid, "amy" if mid % 3 else "bob"), exclude="amy" if mid % 3 else "bob"
        )
    await asyncio.sleep(0)  # the end of this turn of the event loop
    assert texts(carol) == [f"m{mid}" for mid in range(1, 301)] and carol.calls == 1
    assert texts(bob) == [f"m{mid}" for mid in range(1, 301) if mid % 3] and bob.calls == 1
    assert texts(amy) == [f"m{mid}" for mid in range(1, 301) if not mid % 3] and amy.calls == 1


async def test_a_rooms_pushes_of_one_turn_reach_each_member_in_one_call_in_order() -> None:
    """As the lobby's; and pushes to the lobby and a room in turn keep their order."""
    rooms = frozenset({"rooms"})
    amy, bob, carol = Counting("amy", rooms), Counting("bob", rooms), Counting("carol", rooms)
    hub = hub_with_room_seven((amy, bob, carol), {"amy", "bob"})
    for mid in range(1, 101):
        hub.to_room(7, in_seven(mid, "amy"), exclude="amy")
    await asyncio.sleep(0)
    assert texts(bob) == [f"m{mid}" for mid in range(1, 101)] and bob.calls == 1
    assert amy.calls == carol.calls == 0
    for mid in range(101, 105):  # the lobby, the room, the lobby, the room
        if mid % 2:
            hub.to_room(LOBBY_CONV, lobby(mid, "carol"))
        else:
            hub.to_room(7, in_seven(mid, "amy"))
    await asyncio.sleep(0)
    assert texts(bob)[100:] == texts(amy) == ["m101", "m102", "m103", "m104"]
    assert texts(carol) == ["m101", "m103"]


async def test_nothing_overtakes_a_lobby_push_and_a_late_joiner_is_not_sent_earlier_ones() -> None:
    """A private push, a room's and a kick written in the same turn come after the lobby
    pushes before them; a session that joins in the turn gets only what comes after."""
    hub = Hub()
    hub.announce_presence = False
    amy, bob = Listener("amy", frozenset({"rooms"})), Listener("bob", frozenset({"rooms"}))
    hub.join(amy)
    hub.join(bob)
    hub.set_rooms({7: {"amy", "bob"}})
    hub.to_room(LOBBY_CONV, lobby(1, "carol"))
    hub.to_users(["amy"], MessagePush(2, "carol", "amy", "private", 0.0))
    late = Listener("dave")
    hub.join(late)
    hub.to_room(LOBBY_CONV, lobby(3, "carol"))
    hub.to_room(7, MessagePush(4, "carol", None, "room", 0.0, room="seven"))
    await asyncio.sleep(0)
    assert texts(amy) == ["m1", "private", "m3", "room"]
    assert texts(bob) == ["m1", "m3", "room"]
    assert texts(late) == ["m3"]


async def test_a_session_leaving_in_the_turn_takes_nothing_from_those_who_stay() -> None:
    """What was said while it was there is written out as it leaves: to it, and still
    to everyone else; what is said after goes to the others only."""
    hub = Hub()
    hub.announce_presence = False
    amy, bob, carol = Listener("amy"), Listener("bob"), Listener("carol")
    for listener in (amy, bob, carol):
        hub.join(listener)
    hub.to_room(LOBBY_CONV, lobby(1, "dave"))
    hub.leave(carol)
    hub.to_room(LOBBY_CONV, lobby(2, "dave"))
    await asyncio.sleep(0)
    assert texts(amy) == texts(bob) == ["m1", "m2"]
    assert texts(carol) == ["m1"]


async def test_in_a_room_too_who_leaves_in_the_turn_gets_what_was_said_before_only() -> None:
    """A room's pushes wait for the end of the turn: a session that closes and a member
    who leaves the room meanwhile are written what was said while they were there, and
    nothing after; the others get everything."""
    rooms = frozenset({"rooms"})
    amy, bob, carol = Listener("amy", rooms), Listener("bob", rooms), Listener("carol", rooms)
    hub = hub_with_room_seven((amy, bob, carol), {"amy", "bob", "carol"})
    hub.to_room(7, in_seven(1, "dave"))
    hub.leave(carol)  # her connection closed
    hub.to_room(7, in_seven(2, "dave"))
    hub.remove_member(7, "bob")  # he left the room
    hub.to_room(7, in_seven(3, "dave"))
    await asyncio.sleep(0)
    assert (texts(amy), texts(bob), texts(carol)) == (["m1", "m2", "m3"], ["m1", "m2"], ["m1"])


async def test_a_user_with_several_sessions_stays_reachable_whichever_leaves_first() -> None:
    hub = Hub()
    hub.announce_presence = False
    first, second, third, bob = (Listener("amy"), Listener("amy"), Listener("amy"),
                                 Listener("bob"))  # fmt: skip
    for session in (first, second, third, bob):
        hub.join(session)
    hub.leave(first)  # the one the hub met first
    hub.to_room(LOBBY_CONV, MessagePush(1, "bob", None, "one", 1.0), skip=bob)
    hub.leave(third)
    hub.to_room(LOBBY_CONV, MessagePush(2, "bob", None, "two", 2.0), skip=bob)
    hub.write_gathered()
    assert (texts(first), texts(second), texts(third)) == ([], ["one", "two"], ["one"])
    assert hub.is_online("amy") and hub.sessions_of("amy") == (second,)
    assert hub.to_users(["amy"], MessagePush(3, "bob", "amy", "to amy", 3.0))
    assert texts(second) == ["one", "two", "to amy"]
    hub.leave(second)
    assert not hub.is_online("amy") and hub.sessions_of("amy") == ()
    hub.leave(second)  # twice is once
    assert hub.online() == ["bob"]
