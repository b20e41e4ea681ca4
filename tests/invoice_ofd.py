"""Synthetic OFD e-invoices (old style with original_invoice.xml, 数电 with CustomTag.xml) for tests."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from invoice_pdf import (
    _DRAWER,
    _MACHINE_NO,
    _PAYEE,
    _REVIEWER,
    _SELLER_ADDRESS,
    _SELLER_BANK,
    _SHUDIAN,
    _TOLL_PLATE,
    _TOLL_VEHICLE,
    InvoiceSpec,
    _cipher_lines,
    _cn_date,
    _money,
    _old_title,
    capital_amount,
    drawn_qr_payload,
    qr_image_png,
)

__all__ = ["BUILDS", "FP_NS", "OFD_NS", "OLD_STYLE_VARIANTS", "ofd_digital", "ofd_old_style"]

OFD_NS = "http://www.ofdspec.org/2016"
FP_NS = "http://www.edrm.org.cn/schema/e-invoice/2019"
OLD_STYLE_VARIANTS = ("电子普票(旧)", "电子专票(旧)", "通行费")
BUILDS = ("suwell", "other")

_PAGE_W, _PAGE_H = 210.0, 140.0  # mm: every e-invoice OFD page seen is 210 x 140
_MM_PER_PT = 25.4 / 72
_BOM = b"\xef\xbb\xbf"

# ---------------------------------------------------------------------------
# A tiny XML writer: the prefixes (ofd:, fp:, an unprefixed eInvoice root), CDATA and the
# whitespace-only values of real files are exactly what ElementTree cannot write.
# ---------------------------------------------------------------------------


@dataclass
class _El:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[_El] = field(default_factory=list)
    text: str | None = None
    cdata: bool = False


def _el(
    tag: str,
    *children: _El,
    text: str | None = None,
    cdata: bool = False,
    attrs: dict[str, str] | None = None,
    **more: str,
) -> _El:
    """An element; attributes whose names are not identifiers (xmlns:ofd) go in attrs."""
    return _El(tag, {**(attrs or {}), **more}, list(children), text, cdata)


def _write(el: _El, out: list[str], depth: int | None) -> None:
    """depth None: everything on one line (Suwell); else indented by two spaces (other producers)."""
    pad = "" if depth is None else "  " * depth
    attrs = "".join(f' {name}="{escape(value, {chr(34): "&quot;"})}"' for name, value in el.attrs.items())
    out.append(f"{pad}<{el.tag}{attrs}")
    if el.children:
        out.append(">" if depth is None else ">\n")
        for child in el.children:
            _write(child, out, None if depth is None else depth + 1)
        out.append(f"{pad}</{el.tag}>")
    elif el.text is None:
        out.append("/>")
    else:
        if el.cdata:
            assert "]]>" not in el.text
            body = f"<![CDATA[{el.text}]]>"
        elif depth is not None and not el.text.strip():
            body = "\n" + pad  # indented writers turn an empty value into a line break plus indent
        else:
            body = escape(el.text)
        out.append(f">{body}</{el.tag}>")
    if depth is not None:
        out.append("\n")


def _xml(root: _El, *, pretty: bool = False, bom: bool = False) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "\n" if pretty else ""]
    _write(root, out, 0 if pretty else None)
    data = "".join(out).encode("utf-8")
    return _BOM + data if bom else data


def _num(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# ---------------------------------------------------------------------------
# Page model: positions are given in PDF points of invoice_pdf.py's layouts and stored in mm
# ---------------------------------------------------------------------------


def _advances(text: str, size: float) -> list[float]:
    # Fixed-pitch approximation used by real producers: CJK and full-width characters one em,
    # everything else half an em.
    return [size if ord(ch) >= 0x2E80 else size / 2 for ch in text]


def _delta_x(advances: Sequence[float]) -> str | None:
    """OFD DeltaX: the gaps between glyphs, runs written 'g N w' as real files do."""
    steps = [_num(a) for a in advances[:-1]]
    parts: list[str] = []
    i = 0
    while i < len(steps):
        j = i
        while j < len(steps) and steps[j] == steps[i]:
            j += 1
        parts.append(f"g {j - i} {steps[i]}" if j - i >= 2 else steps[i])
        i = j
    return " ".join(parts) or None


class _Doc:
    """IDs, fonts, the template layer (labels) and the page layer (values) of one OFD."""

    def __init__(self, page_w_pt: float, page_h_pt: float, *, first_id: int, cdata: bool) -> None:
        self._sx, self._sy = _PAGE_W / page_w_pt, _PAGE_H / page_h_pt
        self._next = first_id
        self.cdata = cdata
        self.fonts = {"song": self.new_id(), "mono": self.new_id(), "kai": self.new_id()}
        self.template_id = self.new_id()
        self.page_id = self.new_id()
        self.template_layer_id = self.new_id()
        self.page_layer_id = self.new_id()
        self.template: list[_El] = []
        self.page: list[_El] = []

    def new_id(self) -> int:
        self._next += 1
        return self._next - 1

    @property
    def max_id(self) -> int:
        return self._next - 1

    def _object(
        self, text: str, x: float, y: float, w: float, size: float, font: str, *, tx: float = 0.0, template: bool
    ) -> int:
        """One TextObject at (x, y) mm; tx shifts the text inside its Boundary."""
        object_id = self.new_id()
        code_attrs = {"X": _num(tx), "Y": _num(size * 1.1)}
        delta = _delta_x(_advances(text, size))
        if delta:
            code_attrs["DeltaX"] = delta
        code = _El("ofd:TextCode", code_attrs, text=text, cdata=self.cdata)
        boundary = " ".join(_num(v) for v in (x, y, w, size * 1.5))
        obj = _el(
            "ofd:TextObject", code, ID=str(object_id), Boundary=boundary, Font=str(self.fonts[font]), Size=_num(size)
        )
        (self.template if template else self.page).append(obj)
        return object_id

    def text(
        self, text: str, x: float, top: float, size: float = 9.0, *, font: str = "song", template: bool = False
    ) -> int:
        """Text whose box starts at (x, top) in points; returns its object ID."""
        mm = size * _MM_PER_PT
        return self._object(
            text, x * self._sx, top * self._sy, sum(_advances(text, mm)) + 0.5, mm, font, template=template
        )

    def label(self, text: str, x: float, top: float, size: float = 9.0) -> int:
        return self.text(text, x, top, size, font="kai", template=True)

    def right(self, text: str, x1: float, top: float, size: float = 9.0, *, font: str = "song") -> int:
        return self.text(text, x1 - sum(_advances(text, size)), top, size, font=font)

    def centred(self, text: str, xc: float, top: float, size: float = 9.0) -> int:
        return self.text(text, xc - sum(_advances(text, size)) / 2, top, size)

    def stack(self, text: str, x: float, top: float, step: float) -> None:
        for i, ch in enumerate(text):
            self.label(ch, x, top + i * step)

    def money(
        self, figure: str, top: float, size: float = 9.0, *, x: float | None = None, x1: float | None = None
    ) -> list[int]:
        """'¥' and the figure as two TextObjects sharing one Boundary, as real producers write them."""
        if figure == "***":
            return [self.right(figure, x1, top, size) if x1 is not None else self.text(figure, x or 0.0, top, size)]
        sign_size, gap = size * 1.2, 1.0
        width = sign_size / 2 + gap + sum(_advances(figure, size))
        x0 = x if x is not None else (x1 or 0.0) - width
        bx, by, bw = x0 * self._sx, top * self._sy, width * _MM_PER_PT + 0.5
        sign = self._object("¥", bx, by, bw, sign_size * _MM_PER_PT, "mono", template=False)
        tx = (sign_size / 2 + gap) * _MM_PER_PT
        value = self._object(figure, bx, by, bw, size * _MM_PER_PT, "song", tx=tx, template=False)
        return [sign, value]

    def frame(self, x0: float, top0: float, x1: float, top1: float) -> None:
        """The outer frame of the template, one PathObject."""
        x, y, w, h = x0 * self._sx, top0 * self._sy, (x1 - x0) * self._sx, (top1 - top0) * self._sy
        path = f"M 0 0 L {_num(w)} 0 L {_num(w)} {_num(h)} L 0 {_num(h)} C"
        boundary = " ".join(_num(v) for v in (x, y, w, h))
        self.template.append(
            _el("ofd:PathObject", _el("ofd:AbbreviatedData", text=path), ID=str(self.new_id()), Boundary=boundary)
        )

    def image(self, resource_id: int, x: float, top: float, size: float) -> None:
        """The QR image: an ImageObject whose CTM scales the unit image to its Boundary."""
        w, h = size * self._sx, size * self._sy
        self.page.insert(
            0,
            _el(
                "ofd:ImageObject",
                ID=str(self.new_id()),
                CTM=f"{_num(w)} 0 0 {_num(h)} 0 0",
                Boundary=" ".join(_num(v) for v in (x * self._sx, top * self._sy, w, h)),
                ResourceID=str(resource_id),
            ),
        )


def _ref(tag: str, page_id: int, ids: Sequence[int], prefix: str = "ofd") -> _El:
    return _el(tag, *(_el(f"{prefix}:ObjectRef", text=str(i), PageRef=str(page_id)) for i in ids))


def _structured_tax(spec: InvoiceSpec) -> str:
    # Structured copies mirror the printed page: a tax-exempt invoice says *** there too.
    return "***" if spec.tax is None else _money(spec.tax)


def _shown_total(spec: InvoiceSpec) -> str:
    return _money(spec.total if spec.total_override is None else spec.total_override)


def _shown_capital(spec: InvoiceSpec) -> str:
    return spec.capital_total if spec.capital_total is not None else capital_amount(spec.total)


# ---------------------------------------------------------------------------
# Package parts shared by both styles
# ---------------------------------------------------------------------------


def _custom_datas(spec: InvoiceSpec, *, old: bool) -> list[tuple[str, str]]:
    datas = [("发票代码", spec.code)] if old else []
    datas += [("发票号码", spec.number), ("开票日期", _cn_date(spec.issue_date))]
    if old:
        datas.append(("校验码", spec.check_code))
    datas += [
        ("合计金额", _money(spec.pretax)),
        ("合计税额", _structured_tax(spec)),
        ("价税合计", _money(spec.total)),
        ("购买方名称", spec.buyer.name),
    ]
    if spec.buyer.tax_id:
        datas.append(("购买方纳税人识别号", spec.buyer.tax_id))
    datas += [("销售方名称", spec.seller.name), ("销售方纳税人识别号", spec.seller.tax_id)]
    return datas


def _ofd_xml(spec: InvoiceSpec, doc_id: str, creator: str, datas: Sequence[tuple[str, str]]) -> bytes:
    info = _el(
        "ofd:DocInfo",
        _el("ofd:DocID", text=doc_id),
        _el("ofd:Author", text="fapiao-inbox tests"),
        _el("ofd:CreationDate", text=spec.issue_date.isoformat()),
        _el("ofd:Creator", text=creator),
        _el("ofd:CustomDatas", *(_el("ofd:CustomData", text=value, Name=name) for name, value in datas)),
    )
    body = _el("ofd:DocBody", info, _el("ofd:DocRoot", text="Doc_0/Document.xml"))
    return _xml(_el("ofd:OFD", body, attrs={"xmlns:ofd": OFD_NS, "DocType": "OFD", "Version": "1.1"}))


def _document_xml(doc: _Doc, *, attachments: bool, pretty: bool) -> bytes:
    common = _el(
        "ofd:CommonData",
        _el("ofd:MaxUnitID", text=str(doc.max_id)),
        _el("ofd:PageArea", _el("ofd:PhysicalBox", text=f"0 0 {_num(_PAGE_W)} {_num(_PAGE_H)}")),
        _el("ofd:PublicRes", text="PublicRes.xml"),
        _el("ofd:DocumentRes", text="DocumentRes.xml"),
        _el("ofd:TemplatePage", ID=str(doc.template_id), BaseLoc="Tpls/Tpl_0/Content.xml"),
    )
    pages = _el("ofd:Pages", _el("ofd:Page", ID=str(doc.page_id), BaseLoc="Pages/Page_0/Content.xml"))
    parts = [common, pages]
    if attachments:
        parts.append(_el("ofd:Attachments", text="Attachs/Attachments.xml"))
    parts.append(_el("ofd:CustomTags", text="Tags/CustomTags.xml"))
    return _xml(_el("ofd:Document", *parts, attrs={"xmlns:ofd": OFD_NS}), pretty=pretty, bom=pretty)


def _public_res(doc: _Doc, *, pretty: bool) -> bytes:
    names = {"song": ("宋体", "SimSun"), "mono": ("Courier New", "Courier New"), "kai": ("楷体", "KaiTi")}
    fonts = _el(
        "ofd:Fonts",
        *(
            _el("ofd:Font", ID=str(font_id), FontName=names[key][0], FamilyName=names[key][1])
            for key, font_id in doc.fonts.items()
        ),
    )
    return _xml(_el("ofd:Res", fonts, attrs={"xmlns:ofd": OFD_NS, "BaseLoc": "Res"}), pretty=pretty, bom=pretty)


def _document_res(media: tuple[int, str] | None, *, pretty: bool) -> bytes:
    children = []
    if media is not None:
        media_id, name = media
        item = _el("ofd:MultiMedia", _el("ofd:MediaFile", text=name), ID=str(media_id), Type="Image", Format="PNG")
        children.append(_el("ofd:MultiMedias", item))
    return _xml(_el("ofd:Res", *children, attrs={"xmlns:ofd": OFD_NS, "BaseLoc": "Res"}), pretty=pretty, bom=pretty)


def _content_xml(layer_id: int, objects: list[_El], *, template_id: int | None, pretty: bool) -> bytes:
    parts = [_el("ofd:Area", _el("ofd:PhysicalBox", text=f"0 0 {_num(_PAGE_W)} {_num(_PAGE_H)}"))]
    if template_id is not None:
        parts.append(_el("ofd:Template", TemplateID=str(template_id), ZOrder="Background"))
    parts.append(_el("ofd:Content", _el("ofd:Layer", *objects, ID=str(layer_id))))
    return _xml(_el("ofd:Page", *parts, attrs={"xmlns:ofd": OFD_NS}), pretty=pretty, bom=pretty)


def _custom_tags(type_id: str, file_loc: str, *, pretty: bool) -> bytes:
    tag = _el("ofd:CustomTag", _el("ofd:FileLoc", text=file_loc), TypeID=type_id)
    return _xml(_el("ofd:CustomTags", tag, attrs={"xmlns:ofd": OFD_NS}), pretty=pretty, bom=pretty)


def _zip(members: Sequence[tuple[str, bytes]], spec: InvoiceSpec) -> bytes:
    # A fixed timestamp (the issue date) so that equal arguments give equal bytes.
    stamp = (spec.issue_date.year, spec.issue_date.month, spec.issue_date.day, 0, 0, 0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buf.getvalue()


def _qr_media(doc: _Doc, spec: InvoiceSpec, qr: bool, name: str | None) -> tuple[tuple[int, str] | None, bytes]:
    """Register the QR PNG as a MultiMedia resource; returns (id, file name) and the PNG."""
    if not qr:
        return None, b""
    media_id = doc.new_id()
    return (media_id, name or f"image_{media_id}.png"), qr_image_png(drawn_qr_payload(spec))


# ---------------------------------------------------------------------------
# Old style: 电子普票(旧), 电子专票(旧), 通行费 (609.44 x 394.01 pt layout of invoice_pdf.py)
# ---------------------------------------------------------------------------


def _old_page(doc: _Doc, spec: InvoiceSpec) -> dict[str, list[int]]:
    """Template labels and page values; returns the object IDs of each tagged field."""
    toll = spec.variant == "通行费"
    refs: dict[str, list[int]] = {}
    doc.frame(20.0, 82.0, 592.0, 350.0)
    title = _old_title(spec)
    doc.label(title, 296.2 - len(title) * 10, 23.7, 20)
    if toll:
        doc.label("通行费", 94.8, 30.0, 16)

    doc.label("发票代码:", 434.9, 12.9)
    refs["InvoiceCode"] = [doc.text(spec.code, 475.0, 12.1)]
    doc.label("发票号码:", 434.8, 30.4)
    refs["InvoiceNo"] = [doc.text(spec.number, 475.0, 30.1)]
    doc.label("开票日期:", 434.3, 47.6)
    refs["IssueDate"] = [doc.text(_cn_date(spec.issue_date), 477.0, 47.8)]
    doc.label("校 验 码:", 434.6, 65.3)
    check = spec.check_code
    if len(check) == 20 and check.isdigit():
        check = " ".join(check[i : i + 5] for i in range(0, 20, 5))
    refs["InvoiceCheckCode"] = [doc.text(check, 475.0, 65.1)]
    doc.label("机器编号:", 31.1, 65.1)
    refs["MachineNo"] = [doc.text(_MACHINE_NO, 75.0, 64.1)]

    doc.stack("购买方", 28.7, 93.5, 15.65)
    doc.label("名", 48.3, 86.8)
    doc.label("称:", 93.3, 86.8)
    refs["BuyerName"] = [doc.text(spec.buyer.name, 108.0, 86.1)]
    doc.label("纳税人识别号:", 48.5, 101.9)
    if spec.buyer.tax_id:
        refs["BuyerTaxID"] = [doc.text(spec.buyer.tax_id, 108.0, 100.3, 12.0, font="mono")]
    doc.label("地 址、电 话:", 48.4, 117.0)
    doc.label("开户行及账号:", 48.4, 132.1)
    doc.stack("密码区", 351.5, 89.9, 19.5)
    for i, line in enumerate(_cipher_lines(spec)):
        doc.text(line, 370.0, 86.3 + 15.0 * i, 12.0, font="mono")

    if toll:
        header: Sequence[tuple[str, float]] = (
            ("项目名称", 67.8), ("车牌号", 180.8), ("类型", 249.8), ("通行日期起", 281.8),
            ("通行日期止", 337.8), ("金额", 416.8), ("税率", 479.8), ("税额", 530.8),
        )  # fmt: skip
    else:
        header = (
            ("货物或应税劳务、服务名称", 44.0), ("规格型号", 180.4), ("单位", 226.7), ("数量", 275.3),
            ("单价", 343.9), ("金额", 423.4), ("税率", 483.6), ("税额", 536.8),
        )  # fmt: skip
    for text, x in header:
        doc.label(text, x, 147.7)
    for i, item in enumerate(spec.items):
        top = 161.1 + 12.0 * i
        refs.setdefault("Item", []).append(doc.text(item.name, 24.8 if toll else 27.0, top))
        if toll:
            doc.text(_TOLL_PLATE, 149.8, top)
            doc.text(_TOLL_VEHICLE, 240.0, top)
        refs.setdefault("Amount", []).append(doc.right(_money(item.amount), 481.7, top))
        refs.setdefault("TaxScheme", []).append(doc.centred(item.tax_rate, 494.3, top))
        tax = "***" if item.tax is None else _money(item.tax)
        refs.setdefault("TaxAmount", []).append(doc.right(tax, 593.4, top))

    doc.label("合", 61.2, 257.5)
    doc.label("计", 101.7, 257.5)
    refs["TaxExclusiveTotalAmount"] = doc.money(_money(spec.pretax), 259.1, 11.0, x=438.4)
    refs["TaxTotalAmount"] = doc.money(_structured_tax(spec), 259.1, 11.0, x=557.0)
    doc.label("价税合计(大写)", 61.4, 276.3)
    doc.text(_shown_capital(spec), 190.0, 276.1)
    doc.label("(小写)", 448.4, 276.0)
    refs["TaxInclusiveTotalAmount"] = doc.money(_shown_total(spec), 275.1, 11.0, x=474.0)

    doc.stack("销售方", 29.5, 302.1, 14.15)
    doc.label("名", 47.9, 295.3)
    doc.label("称:", 92.9, 295.3)
    refs["SellerName"] = [doc.text(spec.seller.name, 108.0, 295.1)]
    doc.label("纳税人识别号:", 48.0, 309.7)
    refs["SellerTaxID"] = [doc.text(spec.seller.tax_id, 108.0, 308.3, 12.0, font="mono")]
    doc.label("地 址、电 话:", 48.0, 324.0)
    refs["SellerAddrTel"] = [doc.text(_SELLER_ADDRESS, 108.0, 324.9, 7.0)]
    doc.label("开户行及账号:", 48.0, 337.5)
    refs["SellerFinancialAccount"] = [doc.text(_SELLER_BANK, 108.0, 338.0, 8.0)]
    doc.stack("备注", 351.3, 302.1, 30.2)
    for i, line in enumerate(ln for ln in spec.remarks.splitlines() if ln.strip()):
        refs.setdefault("Note", []).append(doc.text(line, 370.0, 294.1 + 10.0 * i))

    doc.label("收款人:", 32.9, 356.0)
    doc.text(_PAYEE, 65.0, 356.1)
    doc.label("复核:", 191.9, 356.6)
    doc.text(_REVIEWER, 215.0, 356.1)
    doc.label("开票人:", 314.0, 356.4)
    refs["InvoiceClerk"] = [doc.text(_DRAWER, 347.0, 356.1)]
    doc.label("销售方:(章)", 436.3, 356.4)
    return refs


_ITEM_COLUMNS = ("Item", "TaxScheme", "Amount", "TaxAmount")


def _tag_invoice(refs: dict[str, list[int]], page_id: int, *, pretty: bool) -> bytes:
    """Tags/Tag_Invoice.xml: the fp-namespaced field -> ObjectRef map of old-style producers."""

    def ref(name: str) -> list[_El]:
        return [_ref(f"fp:{name}", page_id, refs[name], "fp")] if name in refs else []

    children = [*ref("InvoiceCode"), *ref("InvoiceNo"), *ref("IssueDate"), *ref("InvoiceCheckCode"), *ref("MachineNo")]
    children.append(_el("fp:Buyer", *ref("BuyerName"), *ref("BuyerTaxID")))
    seller = ("SellerName", "SellerTaxID", "SellerAddrTel", "SellerFinancialAccount")
    children.append(_el("fp:Seller", *(e for name in seller for e in ref(name))))
    for name in ("TaxExclusiveTotalAmount", "TaxTotalAmount", "TaxInclusiveTotalAmount", "InvoiceClerk", "Note"):
        children += ref(name)
    # Item lines: one element per column and line, flat, as real tag files list them.
    for line in zip(*(refs.get(name, []) for name in _ITEM_COLUMNS), strict=True):
        children += [_ref(f"fp:{name}", page_id, [i], "fp") for name, i in zip(_ITEM_COLUMNS, line, strict=True)]
    root = _el("fp:eInvoice", *children, attrs={"xmlns:fp": FP_NS, "version": "1.0"})
    return _xml(root, pretty=pretty, bom=pretty)


def _original_invoice(spec: InvoiceSpec, *, pretty: bool) -> bytes:
    """Attachs/original_invoice.xml: an unprefixed eInvoice root declaring fp, fp: children."""

    def fp(name: str, text: str = "", *children: _El) -> _El:
        return _el(f"fp:{name}", *children, text=None if children else text)

    cipher = "".join(_cipher_lines(spec))
    # Not a real CMS signature: stable bytes of the right shape (base64) standing in for one.
    signature = base64.b64encode(hashlib.sha512(f"{spec.code}/{spec.number}".encode()).digest() * 2).decode()
    goods = [
        fp(
            "GoodsInfo",
            "",
            fp("Item", item.name),
            fp("Specification"),
            fp("MeasurementDimension"),
            fp("Price", _money(item.amount) if item.amount >= 0 else ""),
            fp("Quantity", "1" if item.amount >= 0 else ""),
            fp("Amount", _money(item.amount)),
            fp("TaxScheme", item.tax_rate),
            fp("TaxAmount", "***" if item.tax is None else _money(item.tax)),
        )
        for item in spec.items
    ]
    root = _el(
        "eInvoice",
        fp("DocID", "01"),
        fp("InvoiceCode", spec.code),
        fp("InvoiceNo", spec.number),
        fp("IssueDate", _cn_date(spec.issue_date)),
        fp("InvoiceCheckCode", spec.check_code),
        fp("MachineNo", _MACHINE_NO),
        fp("TaxControlCode", cipher),
        fp(
            "Buyer",
            "",
            fp("BuyerName", spec.buyer.name),
            # An empty buyer tax ID is written as whitespace, not as an empty element.
            fp("BuyerTaxID", spec.buyer.tax_id or " "),
            fp("BuyerAddrTel"),
            fp("BuyerFinancialAccount"),
        ),
        fp(
            "Seller",
            "",
            fp("SellerName", spec.seller.name),
            fp("SellerTaxID", spec.seller.tax_id),
            fp("SellerAddrTel", _SELLER_ADDRESS),
            fp("SellerFinancialAccount", _SELLER_BANK),
        ),
        fp("TaxInclusiveTotalAmount", _money(spec.total)),
        fp("Note", spec.remarks),
        fp("InvoiceClerk", _DRAWER),
        fp("Payee", _PAYEE),
        fp("Checker", _REVIEWER),
        fp("TaxTotalAmount", _structured_tax(spec)),
        fp("TaxExclusiveTotalAmount", _money(spec.pretax)),
        fp("GraphCode", drawn_qr_payload(spec)),
        fp("Signature", signature),
        fp("GoodsInfos", "", *goods),
        attrs={"xmlns:fp": FP_NS, "Version": "1.0"},
    )
    return _xml(root, pretty=pretty, bom=pretty)


def ofd_old_style(spec: InvoiceSpec, *, qr: bool = True, build: str = "suwell") -> bytes:
    """An old-style OFD: page text, Tags/Tag_Invoice.xml and Attachs/original_invoice.xml.

    build="other" is the same invoice from a second producer: other DocID, member order, object
    IDs and image name (qrcode.png), indented XML with a UTF-8 BOM in Doc_0/.
    """
    if spec.variant not in OLD_STYLE_VARIANTS:
        raise ValueError(f"ofd_old_style needs one of {OLD_STYLE_VARIANTS}, not {spec.variant!r}")
    if build not in BUILDS:
        raise ValueError(f"build must be one of {BUILDS}, not {build!r}")
    other = build == "other"
    doc = _Doc(609.44, 394.01, first_id=60 if other else 1, cdata=False)
    media, png = _qr_media(doc, spec, qr, "qrcode.png" if other else None)
    refs = _old_page(doc, spec)
    if media is not None:
        doc.image(media[0], 15.0, 5.0, 60.0)
    attachment_id = doc.new_id()
    original = _original_invoice(spec, pretty=other)

    seed = f"{build}/{spec.code}/{spec.number}"
    doc_id = f"{spec.code}_{spec.number}" if other else hashlib.sha256(seed.encode()).hexdigest()[:32]
    datas = _custom_datas(spec, old=True)
    stamp = spec.issue_date.strftime("%Y/%m/%d 10:30:00" if other else "%Y-%m-%dT10:30:00")
    attachment = _el(
        "ofd:Attachment",
        _el("ofd:FileLoc", text="original_invoice.xml"),
        ID=str(attachment_id),
        Name="original_invoice",
        Format="xml",
        CreationDate=stamp,
        Size=_num(len(original) / 1024),
        Visible="false",
    )
    members = {
        "OFD.xml": _ofd_xml(spec, doc_id, build, datas[::-1] if other else datas),
        "Doc_0/Document.xml": _document_xml(doc, attachments=True, pretty=other),
        "Doc_0/PublicRes.xml": _public_res(doc, pretty=other),
        "Doc_0/DocumentRes.xml": _document_res(media, pretty=other),
        "Doc_0/Tpls/Tpl_0/Content.xml": _content_xml(
            doc.template_layer_id, doc.template, template_id=None, pretty=other
        ),
        "Doc_0/Pages/Page_0/Content.xml": _content_xml(
            doc.page_layer_id, doc.page, template_id=doc.template_id, pretty=other
        ),
        "Doc_0/Tags/CustomTags.xml": _custom_tags("" if other else "fp", "Tag_Invoice.xml", pretty=other),
        "Doc_0/Tags/Tag_Invoice.xml": _tag_invoice(refs, doc.page_id, pretty=other),
        "Doc_0/Attachs/Attachments.xml": _xml(
            _el("ofd:Attachments", attachment, attrs={"xmlns:ofd": OFD_NS}), pretty=other, bom=other
        ),
        "Doc_0/Attachs/original_invoice.xml": original,
    }
    if media is not None:
        members[f"Doc_0/Res/{media[1]}"] = png
    # Suwell writes the attachment first and OFD.xml second; others write OFD.xml first, the
    # pages before the template and the resources last.
    if other:
        order = sorted(members, key=lambda n: (n != "OFD.xml", "Res" in n, "Tpls" in n, n))
    else:
        order = sorted(members, key=lambda n: (not n.startswith("Doc_0/Attachs"), n != "OFD.xml", n))
    return _zip([(name, members[name]) for name in order], spec)


# ---------------------------------------------------------------------------
# 数电 (595.28 x 396.85 pt layout of invoice_pdf.py)
# ---------------------------------------------------------------------------


def _digital_page(doc: _Doc, spec: InvoiceSpec, *, doubled_text: bool) -> list[tuple[str, list[int]]]:
    """Template labels and page values; returns (CustomTag path, object IDs) in tag order."""
    tags: list[tuple[str, list[int]]] = []
    doc.frame(10.0, 88.0, 585.0, 356.0)
    title = "电子发票（普通发票）" if spec.variant == "数电普票" else "电子发票（增值税专用发票）"
    doc.label(title, 292.9 - len(title) * 10, 22.7, 20)

    doc.label("发票号码：", 438.0, 31.7)
    tags.append(("InvoiceNo", [doc.text(spec.number, 481.9, 31.8)]))
    doc.label("开票日期：", 438.0, 48.7)
    tags.append(("IssueDate", [doc.text(_cn_date(spec.issue_date), 481.9, 49.1)]))

    doc.stack("购买方信息", 16.9, 92.9, 9.9)
    doc.stack("销售方信息", 301.8, 92.9, 9.9)
    id_label = "统一社会信用代码/纳税人识别号："
    doc.label("名称：", 32.7, 95.8)
    tags.append(("Buyer/BuyerName", [doc.text(spec.buyer.name, 56.7, 95.8)]))
    doc.label(id_label, 32.5, 125.5)
    if spec.buyer.tax_id:
        tags.append(("Buyer/BuyerTaxID", [doc.text(spec.buyer.tax_id, 153.1, 125.0, 12.0, font="mono")]))
    doc.label("名称：", 317.6, 95.8)
    seller = [doc.text(spec.seller.name, 340.2, 95.8)]
    if doubled_text:
        # Drawn a second time a hair to the right (a faux bold): both objects are tagged.
        seller.append(doc.text(spec.seller.name, 340.5, 95.8))
    tags.append(("Seller/SellerName", seller))
    doc.label(id_label, 317.4, 125.5)
    tags.append(("Seller/SellerTaxID", [doc.text(spec.seller.tax_id, 437.9, 125.0, 12.0, font="mono")]))

    for text, x in (
        ("项目名称", 45.4), ("规格型号", 119.4), ("单位", 190.0), ("数量", 263.7),
        ("单价", 334.6), ("金额", 406.8), ("税率/征收率", 446.5), ("税额", 551.4),
    ):  # fmt: skip
        doc.label(text, x, 151.1)
    items: list[tuple[str, list[int]]] = []
    for i, item in enumerate(spec.items):
        top = 160.9 + 11.0 * i
        items.append(("Item", [doc.text(item.name, 12.8, top)]))
        items.append(("TaxScheme", [doc.centred(item.tax_rate, 471.6, top)]))
        items.append(("Amount", [doc.right(_money(item.amount), 430.3, top)]))
        tax = "***" if item.tax is None else _money(item.tax)
        items.append(("TaxAmount", [doc.right(tax, 579.1, top)]))

    doc.label("合", 58.2, 261.6)
    doc.label("计", 103.5, 261.6)
    tags.append(("TaxExclusiveTotalAmount", doc.money(_money(spec.pretax), 260.5, x1=433.4)))
    tags.append(("TaxTotalAmount", doc.money(_structured_tax(spec), 260.5, x1=579.1)))
    doc.label("价税合计（大写）", 48.0, 280.0)
    doc.text(_shown_capital(spec), 178.4, 278.1)
    doc.label("（小写）", 406.8, 280.0)
    tags.append(("TaxInclusiveTotalAmount", doc.money(_shown_total(spec), 278.4, 11.0, x=440.8)))

    doc.label("备", 17.1, 309.8)
    doc.label("注", 17.1, 326.8)
    notes = [doc.text(line, 34.5, 300.0 + 10.0 * i) for i, line in enumerate(spec.remarks.splitlines()) if line.strip()]
    doc.label("开票人：", 55.3, 367.9)
    tags.append(("InvoiceClerk", [doc.text(_DRAWER, 90.7, 368.2)]))
    if doubled_text:
        # Suwell leaves a second copy of the drawer far below the page box, tagged as a second
        # InvoiceClerk element.
        tags.append(("InvoiceClerk", [doc.text(_DRAWER, 91.0, 2 * 396.85 + 18.7, 10.0)]))
    tags += items
    if notes:
        tags.append(("Note", notes))
    return tags


def _custom_tag(tags: list[tuple[str, list[int]]], page_id: int) -> bytes:
    """Tags/CustomTag.xml: <ofd:root> with one element per field holding ofd:ObjectRef entries."""
    children: list[_El] = []
    for path, ids in tags:
        parent, _, name = path.rpartition("/")
        element = _ref(f"ofd:{name}", page_id, ids)
        if parent:
            # Buyer/Seller children share one wrapper, as in real files.
            if not children or children[-1].tag != f"ofd:{parent}":
                children.append(_el(f"ofd:{parent}"))
            children[-1].children.append(element)
        else:
            children.append(element)
    return _xml(_el("ofd:root", *children, attrs={"xmlns:ofd": OFD_NS, "version": "1.0"}))


def ofd_digital(spec: InvoiceSpec, *, qr: bool = True, doubled_text: bool = False, cdata: bool = False) -> bytes:
    """A 数电 OFD: values on the page, located through Tags/CustomTag.xml ObjectRefs.

    doubled_text draws the seller name twice (both tagged) and the drawer twice (a second
    InvoiceClerk element, off the page); cdata writes every TextCode as a CDATA section.
    """
    if spec.variant not in _SHUDIAN:
        raise ValueError(f"ofd_digital needs 数电普票 or 数电专票, not {spec.variant!r}")
    doc = _Doc(595.28, 396.85, first_id=1, cdata=cdata)
    media, png = _qr_media(doc, spec, qr, None)
    tags = _digital_page(doc, spec, doubled_text=doubled_text)
    if media is not None:
        doc.image(media[0], 18.0, 17.0, 57.0)
    doc_id = hashlib.sha256(f"digital/{spec.number}".encode()).hexdigest()[:32]
    members = [
        ("OFD.xml", _ofd_xml(spec, doc_id, "suwell", _custom_datas(spec, old=False))),
        ("Doc_0/Document.xml", _document_xml(doc, attachments=False, pretty=False)),
        ("Doc_0/PublicRes.xml", _public_res(doc, pretty=False)),
        ("Doc_0/DocumentRes.xml", _document_res(media, pretty=False)),
        (
            "Doc_0/Tpls/Tpl_0/Content.xml",
            _content_xml(doc.template_layer_id, doc.template, template_id=None, pretty=False),
        ),
        (
            "Doc_0/Pages/Page_0/Content.xml",
            _content_xml(doc.page_layer_id, doc.page, template_id=doc.template_id, pretty=False),
        ),
        ("Doc_0/Tags/CustomTags.xml", _custom_tags("root", "CustomTag.xml", pretty=False)),
        ("Doc_0/Tags/CustomTag.xml", _custom_tag(tags, doc.page_id)),
    ]
    if media is not None:
        members.append((f"Doc_0/Res/{media[1]}", png))
    return _zip(members, spec)
