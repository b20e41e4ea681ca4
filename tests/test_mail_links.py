"""ingest.sources.mail_links: which URLs are invoice downloads, and finding them in plain text and HTML bodies."""

from __future__ import annotations

import pytest

from ingest.sources.mail_links import find_links, is_download_link


@pytest.mark.parametrize(
    ("url", "text", "context", "expected"),
    [
        ("https://dl.example.cn/files/abc.PDF", "", "", True),
        ("https://dl.example.cn/get?file=25322000000350147748.ofd", "", "", True),
        ("https://nnfp.example.cn/x7Yz", "", "", True),
        ("https://www.example.cn/einvoice/view?id=1", "", "", True),
        ("https://dppt.example-tax.cn:8443/v/2_2532", "", "", True),
        ("https://s.example.cn/x7Yz", "下载发票", "", True),
        ("https://s.example.cn/x7Yz", "Download", "", True),
        ("https://s.example.cn/x7Yz", "点击这里", "电子发票下载地址：", True),
        ("https://s.example.cn/x7Yz", "", "Click here to view your invoice", True),
        # not downloads
        ("https://s.example.cn/x7Yz", "", "", False),
        ("https://s.example.cn/x7Yz", "在线客服", "如有发票问题请联系", False),
        ("https://s.example.cn/x7Yz", "点击这里", "如需退订发票通知请点击", False),
        ("https://www.example-fapiao.cn/", "发票", "", False),
        ("https://www.example-fapiao.cn", "", "", False),
        ("https://fapiao.example.cn/unsubscribe?u=1", "", "", False),
        ("https://fapiao.example.cn/logo.png", "发票", "", False),
        ("https://fapiao.example.cn/app/download", "下载诺诺发票APP", "", False),
        ("https://apps.apple.com/cn/app/fapiao/id1", "", "", False),
        ("https://www.example.cn/privacy.pdf", "", "", False),
        ("mailto:invoice@example-fapiao.cn", "发票", "", False),
        ("javascript:download('x.pdf')", "下载", "", False),
        ("ftp://example.cn/x.pdf", "", "", False),
        ("https://[broken/x.pdf", "发票", "", False),
    ],
)
def test_is_download_link(url: str, text: str, context: str, expected: bool) -> None:
    assert is_download_link(url, text, context) is expected


def test_find_links_in_html() -> None:
    html = """<div>您的发票：<a href="https://s.example.cn/a">https://s.example.cn/a</a></div>
<script>var u = "https://fapiao.example.cn/tracker.js?x=1";</script>
<p>发票下载 https://s.example.cn/b。请尽快下载</p>
<a href="https://s.example.cn/a">下载</a><a>no href</a><img src="https://fapiao.example.cn/p.gif?x=1">
<p>broken <a href="https://fapiao.example.cn/d/1">unclosed"""
    links = find_links(html.encode("gb18030"), html=True, charset="gb2312")
    assert [(link.url, link.text) for link in links] == [
        # the first anchor: its text is the bare URL, and '您的发票：' names the invoice but points at nothing
        ("https://s.example.cn/b", "发票下载"),
        ("https://s.example.cn/a", "下载"),
        ("https://fapiao.example.cn/d/1", "unclosed"),
    ]


def test_find_links_in_plain_text() -> None:
    text = "发票下载链接：https://s.example.cn/c请在7天内下载\n\n发票查看地址:\n  https://s.example.cn/d).\nhttps://s.example.cn/e"
    links = find_links(text.encode(), html=False, charset=None)
    assert [link.url for link in links] == ["https://s.example.cn/c", "https://s.example.cn/d"]
