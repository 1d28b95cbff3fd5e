"""Logging filters of the gateway: keep secrets and personal data out of access logs.

Query strings carry verification and confirmation tokens (`/verify?token=…`), so
the access log keeps the path only.
"""
from __future__ import annotations

import logging
import re

_QUERY = re.compile(r"\?[^\s\"]*")


class DropQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _QUERY.sub("?…", record.msg)
        return True


# eventlet's access-log line starts with the client's address: personal data
# that the log does not need (rate limits keep only keyed hashes of it).
_CLIENT_ADDRESS = re.compile(r"^\S+ - - \[")


class DropClientAddresses(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _CLIENT_ADDRESS.sub("- - - [", record.msg)
        return True
