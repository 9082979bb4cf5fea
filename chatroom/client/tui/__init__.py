"""The Textual app: a menu, login and register forms, and the chat screen.

`app.py` is the only module that opens screens; each screen gets what it needs when it is
built (attributes down) and asks for more by posting a message (`events`, messages up).
`session.py` keeps a logged-in user connected (reconnection, outbox, acks, pings) without
being a widget; `commands.py` turns a typed line into a command value. Nothing here touches
a socket: the client library (`chatroom.client.api`) does.
"""
