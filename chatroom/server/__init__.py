"""The chatroom server: accepts connections, answers each client's requests, stores in SQLite.

Follow one message in: `app` (listen, accept, shut down; builds one `services.Services`)
→ `connection` (one socket: reads frames, keeps replies in order, writes as fast as the
client reads; its rules without I/O are in `rules`) → `handlers` (one function per
request type, given the `Services` and a narrow `Peer`) → `store` (the interface, and
SQLite: one writer owns every transaction) → `hub` (who is online, and fan-out of pushes
to their connections). Beside them: `auth` (bcrypt, in `password_worker` processes),
`throttle` (rate limits, lockouts), `files` (bytes on disk), `datadir` (the data dir's
lock and checks at start), `cli`.
"""
