"""Full-text search of messages, in each engine's own way: SQLite's FTS5 table
`messages_text`, PostgreSQL's text search over a GIN index of `to_tsvector(text)`.

Both take what a user typed the same way: every word must occur, each taken literally,
and a word ending in `*` matches the words it begins.
"""

from chatroom.server.store.rows import MESSAGE_COLUMNS

_CONTROLS = dict.fromkeys([*range(32), 127], " ")


def typed_words(text: str) -> list[tuple[str, bool]]:
    """The words of what a user typed, each with whether it ends in `*` (a prefix)."""
    words = []
    # Control characters separate words: a NUL would end a query string early.
    for word in text.translate(_CONTROLS).split():
        prefix = word.endswith("*") and len(word) > 1
        words.append((word.rstrip("*") if prefix else word, prefix))
    return words


def fts_query(text: str) -> str:
    """The FTS5 query for what a user typed: each word quoted, so `AND`, `"` or `(`
    mean nothing special."""
    return " ".join(
        '"' + word.replace('"', '""') + '"' + ("*" if prefix else "")
        for word, prefix in typed_words(text)
    )


def search_match(text: str, conv: int | None) -> str:
    """The FTS5 expression that finds `text`: its words in the `text` column only (a
    number typed is never taken for a conversation), and, for a search in one
    conversation, its number in the `conv` column, so that the index finds that room's
    matches alone."""
    match = f"text : ({fts_query(text)})"
    return match if conv is None else f'{match} AND conv : "{int(conv)}"'


def _readable(one_conversation: bool) -> str:
    """What a match must be to be shown: in the conversation asked for, or in one of
    the user's."""
    if one_conversation:
        return "m.conv = :conv"
    return "m.conv IN (SELECT conv FROM members WHERE username = :me)"


def search_sql(one_conversation: bool) -> str:
    """The SQLite search: newest match first (FTS5 walks its index backwards)."""
    return f"""SELECT {MESSAGE_COLUMNS}, snippet(messages_text, 0, '«', '»', '…', 12)
               FROM messages_text JOIN messages AS m ON m.mid = messages_text.rowid
               LEFT JOIN files AS f ON f.fid = m.fid
               WHERE messages_text MATCH :query AND {_readable(one_conversation)}
               ORDER BY messages_text.rowid DESC LIMIT :limit"""


def tsquery(text: str) -> str:
    """The PostgreSQL `to_tsquery` input for what a user typed: each word a quoted
    lexeme (`'it''s'`), a prefix marked `:*`, all of them required (`&`)."""
    return " & ".join(
        "'" + word.replace("\\", "\\\\").replace("'", "''") + "'" + (":*" if prefix else "")
        for word, prefix in typed_words(text)
    )


def pg_search_sql(one_conversation: bool) -> str:
    """The PostgreSQL search: the GIN index finds the matches, newest first."""
    return f"""SELECT {MESSAGE_COLUMNS},
                      ts_headline('simple', m.text, to_tsquery('simple', :query),
                                  'StartSel=«, StopSel=», MaxWords=12, MinWords=4')
               FROM messages AS m LEFT JOIN files AS f ON f.fid = m.fid
               WHERE to_tsvector('simple', m.text) @@ to_tsquery('simple', :query)
                 AND {_readable(one_conversation)}
               ORDER BY m.mid DESC LIMIT :limit"""
