"""Structured JSON logs, one object a line, each carrying the request id of the request it belongs to."""

import contextlib
import contextvars
import functools
import json
import logging
import math
import sys
import time
from datetime import UTC, datetime

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# What orjson would write its own way is handed to default=str instead, as json.dumps did.
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class JsonFormatter(logging.Formatter):
    """Renders a record as JSON with its extra fields; never the Authorization header (it is not logged)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")}
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return _line(record.created, record.levelname.lower(), record.name, record.getMessage(), fields)


@functools.lru_cache(maxsize=4)
def _second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _timestamp(created: float) -> str:
    """created as ISO 8601 in UTC to the millisecond (the second's text is made once a second)."""
    fraction, whole = math.modf(created)  # rounded to the microsecond as datetime.fromtimestamp rounds
    micro, second = round(fraction * 1e6), int(whole)
    if micro >= 1_000_000:
        micro, second = micro - 1_000_000, second + 1
    return f"{_second(second)}.{micro // 1000:03d}+00:00"


def _line(created: float, level: str, logger: str, msg: str, fields: dict) -> str:
    entry = {
        "ts": _timestamp(created),
        "level": level,
        "logger": logger,
        "msg": msg,
    }
    rid = request_id.get()
    if rid:
        entry["request_id"] = rid
    entry.update(fields)
    try:
        return orjson.dumps(entry, default=str, option=_ORJSON).decode()
    except TypeError:  # an integer beyond 64 bits, say
        return json.dumps(entry, ensure_ascii=False, default=str)


_handler: logging.StreamHandler | None = None  # the one configure_logging installed


def info_line(logger: logging.Logger, msg: str, fields: dict) -> None:
    """logger.info(msg, extra=fields), written straight by the JSON handler when it is the only one listening:
    the access log writes a line for every request, and a LogRecord's machinery was a third of a cached answer.
    Anyone else listening (another handler, a filter, a test's capture) gets the record as usual."""
    handler = _handler
    if handler is None or not logger.isEnabledFor(logging.INFO) or handler.filters or handler.level > logging.INFO:
        return logger.info(msg, extra=fields)
    current = logger
    while current.parent is not None:  # the way a record would go up to the root: nobody else on it
        if current.handlers or current.filters or not current.propagate:
            return logger.info(msg, extra=fields)
        current = current.parent
    if current.handlers != [handler] or current.filters:
        return logger.info(msg, extra=fields)
    line = _line(time.time(), "info", logger.name, msg, fields) + handler.terminator
    try:
        with handler.lock or contextlib.nullcontext():
            handler.stream.write(line)
            handler.flush()
    except Exception:  # as StreamHandler.emit: a broken stream is reported, never the request's failure
        handler.handleError(logging.makeLogRecord({"name": logger.name, "msg": msg, **fields}))
    return None


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for pmo and uvicorn (once per process)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    # A line carries none of the caller's file, line, thread or process: not looking them up is a third of
    # what a record costs (the logging HOWTO's "Optimization"); an access line is written for every request.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    global _handler
    _handler = handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
