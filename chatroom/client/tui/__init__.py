"""The Textual app: a menu, login and register forms, and the chat screen.

Screens talk to the client library (`chatroom.client.api`), never to sockets; what the
network sends arrives as Textual messages (`events`).
"""
