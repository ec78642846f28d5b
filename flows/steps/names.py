"""File names as data: which ones the inbox refuses, and how any name is shown on a terminal.

A file name comes from whoever dropped the file. It may hold ANSI escape sequences (`\\x1b[2J`
clears the screen), carriage returns that overwrite a line, newlines that forge one, bidi overrides
(U+202E shows `gpj.exe` as `exe.jpg`) or rich markup (`[bold red]`). `safe_name` is the one place
such a name (or a message quoting it) is made safe for a terminal or a log line: every control,
format and line-separator character is shown as its escape (`\\x1b`, `\\r`, `\\u202e`). Stored
names (raw/, the manifest, the load log) keep the real name; only what is printed changes. Rich
markup is neutralised by printing names as `rich.text.Text`, never as markup strings.
"""

from __future__ import annotations

import unicodedata

# Unicode categories a terminal acts on or that hide/reorder text: C0/C1 controls and DEL (Cc),
# format characters incl. bidi overrides and isolates (Cf), lone surrogates from undecodable
# bytes in a file name (Cs), and line/paragraph separators (Zl, Zp).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe_name(text: object) -> str:
    """`text` (a name, a path, or a message quoting one) with every character a terminal would act
    on shown as a visible escape: `\\x1b`, `\\r`, `\\n`, `\\x9b`, `\\u202e`."""
    text = str(text)
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escape(c) if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)


def refusal(name: str) -> str | None:
    """Why a file or folder of this name is not landed (None: the name is fine)."""
    if name in ("", ".", ".."):
        return f"the name {name!r} is a folder reference, not a file name"
    if "\0" in name:
        return "the name holds a NUL character; rename the file"
    if "/" in name or "\\" in name:
        return "the name holds a path separator ('/' or '\\'); rename the file without it"
    if name.startswith(".."):
        return (
            "the name starts with '..' (read as the parent folder by people and tools); rename it without the "
            "leading dots"
        )
    if name.startswith("."):
        return "a hidden name (starts with '.'); rename it without the leading dot if it should land"
    return None
