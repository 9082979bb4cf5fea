"""`chatroom-conformance`: check a server, or referee a client, against docs/protocol.md.

    probe.py         one connection of the checker: requests, replies, pushes, every frame kept
    requirements.py  what a requirement is, and the run that gives each one its own users
    checks/          the requirements, one module per level of the exercise
    report.py        the results as text, JSON and JUnit XML
    referee.py       a server that tests a client: split, coalesced and interleaved frames
    cli.py           the console script

The checker is a client written from the protocol document alone: it uses only the codec
of chatroom/common, never the server's code, so it judges any server the same way.
"""
