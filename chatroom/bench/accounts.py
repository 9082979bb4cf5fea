"""The benchmark's users: one password for all of them, and a client logged in as one."""

from chatroom.client import ChatClient

PASSWORD = "benchmark password"


async def user(port: int, name: str) -> ChatClient:
    """A `ChatClient` on loopback `port`, registered and logged in as `name`."""
    client = await ChatClient.connect("127.0.0.1", port)
    await client.register(name, PASSWORD)
    await client.login(name, PASSWORD)
    return client
