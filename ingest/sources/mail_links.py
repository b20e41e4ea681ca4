"""Invoice download links in the text bodies of mail: which URLs are downloads, found in plain text and HTML; pure.

Many platforms (诺诺, 百望, the tax bureau's 电子发票服务平台) send a link instead of, or beside, the file. A
body also links the platform's front page, its app, customer service, unsubscribe and tracking pixels, so a
URL counts only by the words of its address, its own text, or the text just before it (`is_download_link`).
HTML is read with a small linear scanner, not html.parser, because mail from strangers is hostile input.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

from ingest.sources.mail_headers import decode_bytes
from ingest.sources.mail_parts import DEFAULT_LIMITS, INVOICE_EXTENSIONS, MailLimits

# What makes a URL a download (see is_download_link). In URLs, the platforms' own words: fapiao, dzfp
# (电子发票), nnfp (诺诺发票), dppt (the tax bureau's 电子发票服务平台 hosts), einv, invoice.
_URL_WORDS = ("fapiao", "invoice", "einv", "e-inv", "dzfp", "nnfp", "dppt")
_LINK_TEXT_WORDS = ("发票", "下载", "invoice", "download", "fapiao")
# The text before a link counts only when it names the invoice and points at the link ('发票下载地址：'),
# not when it merely mentions invoices ('如有发票问题请联系<a>在线客服</a>').
_CONTEXT_SUBJECT_WORDS = ("发票", "invoice", "fapiao")
_CONTEXT_POINTER_WORDS = ("下载", "链接", "地址", "查看", "获取", "领取", "点击", "download", "link", "view", "here")
_EXCLUDED_WORDS = ("unsubscribe", "退订", "取消订阅", "退阅", "opt-out", "optout", "privacy", "隐私")
_APP_WORD = re.compile(r"(?<![a-z])app(?![a-z])|客户端|应用商店|app store", re.IGNORECASE)
_APP_STORE_HOSTS = ("apps.apple.com", "itunes.apple.com", "play.google.com", "sj.qq.com", "a.app.qq.com", "app.mi.com")
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".svg", ".ico")
# A URL in text: ASCII only, so it ends at the first Chinese character or full-width punctuation.
_URL_IN_TEXT = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\")]"
_CONTEXT_CHARS = 40
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "td", "th", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
)
# The HTML scanner (_html_links): a tag with its attributes, bounded so one '<' costs a bounded look ahead.
_TAG = re.compile(r"<(?P<closing>/?)(?P<name>[A-Za-z][A-Za-z0-9]{0,15})(?P<attributes>(?:[\s/][^<>]{0,4000})?)>")
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_RAW_TEXT_END = {
    "script": re.compile(r"</script\s*>", re.IGNORECASE),
    "style": re.compile(r"</style\s*>", re.IGNORECASE),
}
_ANCHOR_TEXT_CHARS = 500


@dataclass(frozen=True)
class Link:
    """A URL in a text body that looks like an invoice download (see `is_download_link`)."""

    url: str
    text: str  # the link's own text (HTML anchor), or the text before it on its line


def is_download_link(url: str, text: str = "", context: str = "") -> bool:
    """Whether `url` looks like an invoice download; `text` is the link's own text (an HTML anchor's), `context`
    the words just before the link (same HTML block, or same line in plain text; the line above when the URL
    stands alone on its line).

    Never: anything but http(s); a site's front page (no path, no query: footers link those); images (the
    only <img> a mail has are logos and tracking pixels, and those are not read at all); a link whose URL or
    text says unsubscribe/退订/取消订阅/privacy/隐私; a link to an app (app store hosts, 'APP'/客户端 in its
    text). Otherwise any one of:
    1. the URL path, or a query value, ends .pdf/.ofd/.xml/.zip;
    2. the host or path holds fapiao, invoice, einv, dzfp, nnfp or dppt;
    3. the link's text says 发票, 下载, invoice, download or fapiao;
    4. the context names the invoice (发票/invoice/fapiao) and points at the link (下载/链接/地址/查看/获取/
       领取/点击/download/link/view/here), and says none of the excluded words.
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        query_values = [value for _, value in urllib.parse.parse_qsl(parts.query)]
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    path = urllib.parse.unquote(parts.path).lower()
    query = urllib.parse.unquote(parts.query).lower()
    own_text = text.lower()
    if path in ("", "/") and not query:
        return False
    if path.endswith(_IMAGE_EXTENSIONS):
        return False
    if any(word in path or word in query or word in own_text for word in _EXCLUDED_WORDS):
        return False
    if host in _APP_STORE_HOSTS or _APP_WORD.search(text):
        return False
    if path.endswith(INVOICE_EXTENSIONS) or any(value.lower().endswith(INVOICE_EXTENSIONS) for value in query_values):
        return True
    if any(word in host or word in path for word in _URL_WORDS):
        return True
    if any(word in own_text for word in _LINK_TEXT_WORDS):
        return True
    before = context.lower()
    return (
        any(word in before for word in _CONTEXT_SUBJECT_WORDS)
        and any(word in before for word in _CONTEXT_POINTER_WORDS)
        and not any(word in before for word in _EXCLUDED_WORDS)
        and not _APP_WORD.search(context)
    )


def find_links(body: bytes, *, html: bool, charset: str | None, limits: MailLimits = DEFAULT_LIMITS) -> list[Link]:
    """The download links (`is_download_link`) in a text/plain or text/html body, in order, once each; never
    raises. HTML: every <a href> with its anchor text, and bare URLs in the text; plain text: every URL."""
    text = decode_bytes(body[: limits.max_text_bytes], charset)
    candidates = _html_links(text) if html else _plain_links(text)
    links: list[Link] = []
    seen: set[str] = set()
    for url, own_text, context in candidates:
        if len(links) >= limits.max_links:
            break
        if url in seen:
            continue
        if is_download_link(url, own_text, context):
            seen.add(url)
            shown = own_text if own_text and not _URL_IN_TEXT.fullmatch(own_text) else context
            links.append(Link(url, shown.strip()[:200]))
    return links


def _plain_links(text: str) -> Iterator[tuple[str, str, str]]:
    previous = ""
    for line in text.splitlines():
        for match in _URL_IN_TEXT.finditer(line):
            url = match.group(0).rstrip(_URL_TRAILING)
            before = line[max(0, match.start() - 2 * _CONTEXT_CHARS) : match.start()].strip()[-_CONTEXT_CHARS:]
            if not any(char.isalnum() for char in before):
                before = f"{previous[-_CONTEXT_CHARS:]} {before}".strip()
            yield url, "", before
        if line.strip():
            previous = line.strip()


def _html_links(text: str) -> list[tuple[str, str, str]]:
    """Anchors (href, anchor text, text before the anchor in its block) and bare URLs in the text of an HTML body.

    A small scanner rather than html.parser, which takes quadratic time on unclosed tags ('<a <a <a ...': 20,000
    of them take 18 s); this one only looks at each character a bounded number of times. Comments, scripts,
    styles and declarations are skipped; tags are only told apart, never built into a tree.
    """
    collector = _LinkCollector()
    position = 0
    while position < len(text):
        start = text.find("<", position)
        collector.data(html.unescape(text[position : start if start >= 0 else len(text)]))
        if start < 0:
            break
        if text.startswith("<!--", start):
            end = text.find("-->", start + 4)
            position = len(text) if end < 0 else end + 3
            continue
        if text.startswith(("<!", "<?"), start):
            end = text.find(">", start)
            position = len(text) if end < 0 else end + 1
            continue
        tag = _TAG.match(text, start)
        if tag is None:
            collector.data("<")
            position = start + 1
            continue
        position = tag.end()
        name = tag["name"].lower()
        if tag["closing"]:
            collector.end(name)
        elif name in _RAW_TEXT_END:
            end_tag = _RAW_TEXT_END[name].search(text, position)
            position = len(text) if end_tag is None else end_tag.end()
        else:
            href = _HREF.search(tag["attributes"]) if name == "a" else None
            collector.start(name, html.unescape(next(g for g in href.groups() if g is not None)) if href else None)
    collector.end("a")
    return collector.found


class _LinkCollector:
    """The state of one _html_links scan: the open anchor and the text of the current block before it."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str, str]] = []
        self._block = ""  # the last characters of the current block's text
        self._href: str | None = None
        self._anchor_text = ""
        self._anchor_context = ""

    def start(self, tag: str, href: str | None) -> None:
        if tag in _BLOCK_TAGS:
            self._block = ""
        if tag == "a":
            self.end("a")  # an anchor left open ends where the next one starts
            if href and href.strip():
                self._href = href.strip()
                self._anchor_text = ""
                self._anchor_context = self._block[-_CONTEXT_CHARS:]

    def end(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._block = ""
        if tag != "a" or self._href is None:
            return
        anchor_text = " ".join(self._anchor_text.split())
        self.found.append((self._href, anchor_text, self._anchor_context.strip()))
        self._block = (self._block + anchor_text)[-4 * _CONTEXT_CHARS :]
        self._href = None

    def data(self, text: str) -> None:
        if not text:
            return
        if self._href is not None:
            if len(self._anchor_text) < _ANCHOR_TEXT_CHARS:
                self._anchor_text += text[:_ANCHOR_TEXT_CHARS]
            return
        for match in _URL_IN_TEXT.finditer(text):
            start = match.start()
            before = text[max(0, start - 2 * _CONTEXT_CHARS) : start]
            if start < 2 * _CONTEXT_CHARS:
                before = self._block + before
            self.found.append((match.group(0).rstrip(_URL_TRAILING), "", before.strip()[-_CONTEXT_CHARS:]))
        self._block = (self._block + text[-4 * _CONTEXT_CHARS :])[-4 * _CONTEXT_CHARS :]
