"""`chatroom-bench`: a load generator that measures a chatroom (or an IRC) server.

`wire` holds the lean clients (one per protocol), `scenarios` the measurements written
against them, `cli` the command line and the report.
"""
