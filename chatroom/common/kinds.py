"""The names on the wire: request, reply and push types, statuses, and bye reasons."""

from enum import StrEnum


class RequestType(StrEnum):
    HELLO = "hello"
    REGISTER = "register"
    LOGIN = "login"
    USERS = "users"
    BROADCAST = "broadcast"
    PRIVATE = "private"
    ACK = "ack"
    PING = "ping"
    LOGOUT = "logout"
    RESUME = "resume"
    FILE_PUT = "file_put"
    FILE_CHUNK = "file_chunk"
    FILE_GET = "file_get"
    FILE_INFO = "file_info"
    ROOM_CREATE = "room_create"
    ROOM_JOIN = "room_join"
    ROOM_LEAVE = "room_leave"
    ROOM_INVITE = "room_invite"
    ROOM_TOPIC = "room_topic"
    ROOMS = "rooms"
    ROOM_MEMBERS = "room_members"
    HISTORY = "history"
    SEARCH = "search"
    READ = "read"
    FILES = "files"
    PROFILE_SET = "profile_set"
    PROFILE_GET = "profile_get"
    STATUS_SET = "status_set"
    PASSWORD_SET = "password_set"
    CONTACT_ADD = "contact_add"
    CONTACT_ACCEPT = "contact_accept"
    CONTACT_DECLINE = "contact_decline"
    CONTACT_REMOVE = "contact_remove"
    CONTACTS = "contacts"
    BLOCK = "block"
    UNBLOCK = "unblock"
    BLOCKS = "blocks"
    KICK = "kick"
    MUTE = "mute"
    UNMUTE = "unmute"
    BAN = "ban"
    UNBAN = "unban"
    DELETE = "delete"
    ANNOUNCE = "announce"
    AUDIT = "audit"
    ROOM_ROLE = "room_role"


FIRST_VERSION = frozenset(
    {
        RequestType.HELLO,
        RequestType.REGISTER,
        RequestType.LOGIN,
        RequestType.RESUME,
        RequestType.USERS,
        RequestType.BROADCAST,
        RequestType.PRIVATE,
        RequestType.ACK,
        RequestType.PING,
        RequestType.LOGOUT,
        RequestType.FILE_PUT,
        RequestType.FILE_CHUNK,
        RequestType.FILE_GET,
        RequestType.FILE_INFO,
    }
)
"""The requests of docs/protocol.md's sections 4 to 6: all that a server of the protocol's
first version knows (its `hello` reply lists no `features`)."""


class ReplyType(StrEnum):
    OK = "ok"
    ERROR = "error"


class PushType(StrEnum):
    MESSAGE = "message"
    FILE = "file"
    PRESENCE = "presence"
    PRESENCE_BATCH = "presence_batch"
    BYE = "bye"
    JOINED = "joined"
    LEFT = "left"
    TOPIC = "topic"
    INVITED = "invited"
    READ = "read"
    CONTACT = "contact"
    MODERATED = "moderated"
    DELETED = "deleted"


class Status(StrEnum):
    """What a user says of themselves; `offline` is what others see of one not online
    (or `invisible`)."""

    ONLINE = "online"
    AWAY = "away"
    BUSY = "busy"
    INVISIBLE = "invisible"
    OFFLINE = "offline"


CHOSEN_STATUSES = (Status.ONLINE, Status.AWAY, Status.BUSY, Status.INVISIBLE)
"""The statuses a user may set."""


class ByeReason(StrEnum):
    SHUTDOWN = "shutdown"
    IDLE = "idle"
    LOGOUT = "logout"
    SLOW_CONSUMER = "slow_consumer"
    LOGIN_TIMEOUT = "login_timeout"
    FRAME_TIMEOUT = "frame_timeout"
    KICKED = "kicked"
    BANNED = "banned"
    PASSWORD_CHANGED = "password_changed"
