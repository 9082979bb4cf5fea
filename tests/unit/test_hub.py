"""The hub alone, with fake recipients: who hears of whom, and when."""

import asyncio

from chatroom.common.codec import FrameDecoder
from chatroom.server.hub import Hub
from tests.conftest import WAIT


class Listener:
    """A stand-in for a connection: records the envelopes the hub sends it."""

    def __init__(self, user: str) -> None:
        self.user: str | None = user
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
    assert (await amy.next_news())["data"] == {"online": ["amy", "bob"], "offline": []}
    carol = Listener("carol")
    hub.join(carol)
    hub.leave(carol)
    hub.join(Listener("dave"))
    news = await amy.next_news()
    assert (news["type"], news["data"]) == ("presence", {"username": "dave", "online": True})


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
