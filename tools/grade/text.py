"""Text from a submission is data: each function escapes it for the place where it lands.

Exception messages, reprs, file and member names, notebook text and statuses that quote them
are written by student code or named by the student. Shown raw, they could rewrite a
terminal (escape sequences), run in a report (``<script>``), or start a formula in a
spreadsheet. Every writer of the grader passes such text through one of these:

- ``visible``: the terminal, results.json and every other plain text: each character that
  is not printable (control characters, bidirectional overrides, zero-width characters,
  lone surrogates) is shown as its escape, ``\\x1b``, ``\\u202e``.
- ``markdown``: Markdown (and the HTML it may embed): ``visible``, Markdown's punctuation
  escaped with backslashes, then ``<``, ``>`` and ``&`` HTML-escaped; on one line.
- ``html_text``: HTML element content and attribute values.
- ``csv_cell``: ``visible``, and a cell that a spreadsheet would read as a formula gets a
  leading apostrophe (the CSV writer quotes every cell).
"""

from __future__ import annotations

import html
import re

MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")  # <, >, &: HTML-escaped
FORMULA_START = ("=", "+", "-", "@")  # tabs and line breaks are escaped already


def visible(text: object) -> str:
    """``text`` with every character that is not printable shown as its escape."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(c: str) -> str:
    n = ord(c)
    if n < 0x100:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def markdown(text: object) -> str:
    """``text`` as literal Markdown: no markup, no HTML, no line break."""
    escaped = MARKDOWN_PUNCTUATION.sub(r"\\\1", visible(text))
    return html.escape(escaped, quote=False)


def html_text(text: object) -> str:
    """``text`` as literal HTML element content or attribute value."""
    return html.escape(visible(text), quote=True)


def csv_cell(text: object) -> str:
    """``text`` as a CSV cell that no spreadsheet evaluates."""
    text = visible(text)
    return "'" + text if text.startswith(FORMULA_START) else text
