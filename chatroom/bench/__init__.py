"""Measuring chatroom: `chatroom-bench`, a load generator for a chatroom (or an IRC) server,
and narrower measurement scripts, each run with `python -m chatroom.bench.NAME`.

`wire` holds the lean clients (one per protocol), `scenarios` the measurements written
against them, `cli` the command line and the report, `spawn` a server process of its own,
`accounts` the test users' helper. The scripts: `file_transfer` (upload and download
speed), `login_flood` (chat latency under a login flood), `resume_storm` (thousands of
clients back after a restart), `backlog_login` (others' latency while a huge backlog is
read), `conversations` (history, unread counts, search and room fan-out over millions
of messages, in a database that `conversations_db` builds); `compare.sh` runs
chatroom-bench against ngircd too. Results: docs/performance.md.
"""
