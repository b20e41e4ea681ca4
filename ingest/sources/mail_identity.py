"""Which message a mail is, whichever way it came in (IMAP, an .eml file, an mbox); pure.

A message is known by its Message-ID. Some mailers (scanners, old ERPs, hand-made exports) write none: such a
message is known by a digest of its decoded envelope (sender, subject, date), which every way of reading it
gives alike. Two different messages with the same envelope and no Message-ID would then be one; that costs
nothing but an arrival row, since the files they carry are still known by their sha256.
"""

from __future__ import annotations

import hashlib

from ingest.sources.mime import MailContents

# Far above any real Message-ID (RFC 5322 lines are 998 characters): a longer one is cut, so a hostile header
# cannot make every arrival row huge.
MAX_IDENTITY_CHARS = 998


def message_identity(envelope: MailContents) -> str:
    """'<id@host>' as the message writes it (whitespace removed), else 'envelope:<sha256 of sender, subject,
    date>'."""
    if envelope.message_id:
        return envelope.message_id[:MAX_IDENTITY_CHARS]
    date = envelope.date.isoformat() if envelope.date is not None else ""
    text = "\n".join((envelope.sender_address.lower(), envelope.sender_name, envelope.subject, date))
    return "envelope:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
