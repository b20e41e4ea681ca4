"""ingest.sources.mail_parts: the verdict on a part, from its declared type and name."""

from __future__ import annotations

import pytest

from ingest.sources.mail_parts import Verdict, judge_part


@pytest.mark.parametrize(
    ("content_type", "name", "verdict"),
    [
        ("application/pdf", None, Verdict.YES),
        ("Application/PDF", "x.docx", Verdict.YES),
        ("application/ofd", None, Verdict.YES),
        ("text/xml", None, Verdict.YES),
        ("application/x-zip-compressed", None, Verdict.YES),
        ("image/jpeg", "扫描件.PDF", Verdict.YES),
        ("application/octet-stream", "发票.ofd ", Verdict.YES),
        ("application/octet-stream", None, Verdict.BY_CONTENT),
        ("application/octet-stream", "发票", Verdict.BY_CONTENT),
        ("application/octet-stream", "电子发票.25322000000350147748", Verdict.BY_CONTENT),
        ("application/octet-stream", "报价单.xlsx", Verdict.NO),
        ("image/png", None, Verdict.NO),
        ("text/plain", None, Verdict.NO),
        ("text/html", "index.html", Verdict.NO),
    ],
)
def test_judge_part(content_type: str, name: str | None, verdict: Verdict) -> None:
    assert judge_part(content_type, name) is verdict
