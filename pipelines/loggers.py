"""The console logger of `humiao run` (replaces Dagster's default ``console`` logger).

A data clerk reading the console needs the failing step and its message (they name the file, row and
column, in Chinese and English), not Python stack frames: at INFO and above the stack frames of a
step failure, and the lines of every step skipped because of it, are dropped from the console. The event log (Dagster UI) keeps the whole error, and
``HUMIAO_LOG_LEVEL=DEBUG`` prints it on the console too.
"""

from __future__ import annotations

import logging
import re
import sys

import dagster as dg

STACK_HEADER = "Stack Trace:"


def without_stack_frames(message: str) -> str:
    """``message`` without the indented lines under each ``Stack Trace:`` header (the frames, code lines
    and carets); the error lines and "The above exception was caused by …" lines stay."""
    out, in_stack, dropped = [], False, False
    for line in message.splitlines():
        if line.strip() == STACK_HEADER:
            in_stack, dropped = True, True
            continue
        if in_stack and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        in_stack = False
        out.append(line)
    if dropped:
        out.append("  (Python 调用栈见 Dagster 界面或 HUMIAO_LOG_LEVEL=DEBUG / stack trace: Dagster UI or "
                   "HUMIAO_LOG_LEVEL=DEBUG)")
    return "\n".join(out)


SKIPPED_DOWNSTREAM = re.compile(r"Dependencies for step \S+ failed:")
"""Dagster's ERROR line for every step downstream of a failure (one per asset and check: 33 lines for
one failed ingest); the failure itself is reported once, and the event log keeps these lines."""


class _DropStackFrames(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if SKIPPED_DOWNSTREAM.search(message):
            return False
        if STACK_HEADER in message:
            record.msg, record.args = without_stack_frames(message), ()
        return True


@dg.logger(
    config_schema={
        "log_level": dg.Field(str, is_required=False, default_value="INFO", description="threshold"),
        "name": dg.Field(str, is_required=False, default_value="dagster", description="logger name"),
    },
    description="Console logger: step failures without Python stack frames below DEBUG.",
)
def humiao_console_logger(init_context) -> logging.Logger:
    """A console logger like Dagster's default, to stderr; below DEBUG, stack frames are dropped."""
    level = logging.getLevelName(str(init_context.logger_config["log_level"]).upper())
    logger = logging.Logger(init_context.logger_config["name"], level=level)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s",
                                           datefmt="%Y-%m-%d %H:%M:%S"))
    if level > logging.DEBUG:
        handler.addFilter(_DropStackFrames())
    logger.addHandler(handler)
    return logger
