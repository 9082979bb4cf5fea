"""What the server and every client share: the wire codec, message types, errors, limits.

Nothing in this package does I/O, so all of it can be tested byte by byte.
"""
