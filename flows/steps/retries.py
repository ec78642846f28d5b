"""When a Prefect task may retry: only around I/O that can fail transiently, never on a data error.

A file that fails validation or is malformed fails the same way every time, so retrying it only
delays the report; loads therefore never retry (they return a `rejected` record instead of
raising). Tasks that move bytes over a network or a shared file system (downloads, landing from
an inbox on a network share) retry with backoff, but only for errors that can pass: timeouts,
connection resets, HTTP 408 / 429 / 5xx, and OS errors such as EAGAIN, EBUSY, EIO or ESTALE.
"""

from __future__ import annotations

import errno
import socket
import urllib.error
from typing import Any

TRANSIENT_ERRNOS = frozenset(
    {
        errno.EAGAIN,
        errno.EBUSY,
        errno.EINTR,
        errno.EIO,
        errno.ESTALE,
        errno.ETIMEDOUT,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ECONNREFUSED,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.ENOLCK,
    }
)
TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})
BACKOFF_SECONDS = [10, 60, 300]  # then give up: the next scheduled run tries again


def is_transient(exc: BaseException | None) -> bool:
    """True for an error that may not happen again if the same I/O is retried later."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in TRANSIENT_HTTP
    if isinstance(exc, urllib.error.URLError):
        return isinstance(exc.reason, (TimeoutError, socket.timeout, ConnectionError)) or (
            isinstance(exc.reason, OSError) and exc.reason.errno in TRANSIENT_ERRNOS
        )
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, OSError):
        return exc.errno in TRANSIENT_ERRNOS
    return False


def _exception(state: Any) -> BaseException | None:
    data = getattr(state, "data", None)
    if isinstance(data, BaseException):
        return data
    try:
        result = state.result(raise_on_failure=False)
    except BaseException as exc:  # noqa: BLE001 - the state's own exception
        return exc
    return result if isinstance(result, BaseException) else None


def retry_transient_io(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry only when the task failed on transient I/O."""
    return is_transient(_exception(state))
