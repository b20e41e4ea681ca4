"""`fapiao stats` and storage.report: counts and sums per month, seller and variant equal to the database's own
GROUP BY to the fen; invoices without a date or an amount are counted, never silently dropped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from cli_run import fapiao
from report_archive import ACME, CHINESE_SELLER, KnownArchive, known_archive, yuan

from storage import report
from storage.ledger import InvoiceView
from storage.models import Invoice

_GROUP_SQL = {
    "month": "strftime('%Y-%m', issue_date)",
    "seller": "seller_name",
    "variant": "variant",
}


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnownArchive]:
    with known_archive(tmp_path_factory.mktemp("known")) as archive:
        yield archive


def grouped_by_sql(known: KnownArchive, by: str, where: str = "1") -> dict[str | None, tuple[int, int, int, int]]:
    key = _GROUP_SQL[by]
    rows = known.sql(
        f"SELECT {key}, COUNT(*), SUM(pretax_fen), SUM(tax_fen), SUM(total_fen) FROM invoices"
        f" WHERE {where} GROUP BY {key}"
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def as_tuple(totals: report.Totals) -> tuple[int, int, int, int]:
    return totals.invoices, totals.pretax_fen, totals.tax_fen, totals.total_fen


@pytest.mark.parametrize("by", report.GROUPINGS)
def test_each_group_and_the_total_equal_the_database(known: KnownArchive, by: report.Grouping) -> None:
    result = report.stats(known.engine, by=by)
    assert {group.key: as_tuple(group.totals) for group in result.groups} == grouped_by_sql(known, by)
    assert as_tuple(result.total) == known.sums()
    assert result.total.complete and all(group.totals.complete for group in result.groups)
    assert sum(len(group.views) for group in result.groups) == result.total.invoices


def test_months_come_in_calendar_order_and_sellers_by_total(known: KnownArchive) -> None:
    months = [group.key for group in report.stats(known.engine, by="month").groups]
    assert months == ["2019-07", "2025-07", "2025-08", "2025-09"]
    sellers = report.stats(known.engine, by="seller").groups
    totals = [group.totals.total_fen for group in sellers]
    assert totals == sorted(totals, reverse=True)
    assert sellers[0].key == ACME.name  # 12,345.67 before tax: the largest


def test_filters_choose_as_the_ledger_does(known: KnownArchive) -> None:
    review = report.stats(known.engine, by="seller", status="review")
    assert {g.key: as_tuple(g.totals) for g in review.groups} == grouped_by_sql(known, "seller", "status = 'review'")
    dated = report.stats(known.engine, since=date(2025, 7, 15), until=date(2025, 8, 31), buyer="示例理工")
    where = "issue_date BETWEEN '2025-07-15' AND '2025-08-31' AND buyer_name LIKE '%示例理工%'"
    assert as_tuple(dated.total) == known.sums(where)
    assert [g.key for g in dated.groups] == ["2025-07", "2025-08"]


def view(
    number: str, issued: date | None, total_fen: int | None, seller: str | None, variant: str | None
) -> InvoiceView:
    invoice = Invoice(
        key=f"num:{number}",
        invoice_number=number,
        variant=variant,
        issue_date=issued,
        total_fen=total_fen,
        pretax_fen=None if total_fen is None else total_fen - 13,
        tax_fen=None if total_fen is None else 13,
        seller_name=seller,
        status="ok",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    return InvoiceView(invoice, None, ())


LOOSE = [
    view("1", date(2025, 7, 1), 1001, "甲", "数电普票"),
    view("2", None, 2002, None, None),
    view("3", date(2025, 6, 30), None, "甲", "数电普票"),
    view("4", None, 4004, "", ""),
]


def test_invoices_without_a_key_form_the_last_group_and_missing_amounts_are_counted() -> None:
    months = report.group_views(LOOSE, "month")
    assert [(g.key, [v.invoice.invoice_number for v in g.views]) for g in months] == [
        ("2025-06", ["3"]),
        ("2025-07", ["1"]),
        (None, ["2", "4"]),
    ]
    assert months[0].totals == report.Totals(1, 0, 0, 0, missing_pretax=1, missing_tax=1, missing_total=1)
    assert not months[0].totals.complete
    sellers = report.group_views(LOOSE, "seller")
    assert [g.key for g in sellers] == ["甲", None]  # an empty name is no name
    assert as_tuple(sellers[1].totals) == (2, 2002 + 4004 - 26, 26, 2002 + 4004)
    assert report.totals(LOOSE) == report.Totals(4, 7007 - 39, 39, 7007, 1, 1, 1)


def stats_json(known: KnownArchive, *options: str) -> dict[str, object]:
    completed = fapiao("stats", *options, "--json", cwd=known.folder)
    assert completed.returncode == 0, completed.stderr
    parsed = json.loads(completed.stdout)
    assert isinstance(parsed, dict)
    return parsed


def test_json_has_a_group_per_key_with_decimal_strings(known: KnownArchive) -> None:
    for by in report.GROUPINGS:
        parsed = stats_json(known, "--by", by)
        expected = grouped_by_sql(known, by)
        groups = parsed["groups"]
        assert isinstance(groups, list) and parsed["by"] == by
        assert {g[by]: (g["invoices"], g["pretax"], g["tax"], g["total"]) for g in groups} == {
            key: (count, yuan(pretax), yuan(tax), yuan(total)) for key, (count, pretax, tax, total) in expected.items()
        }
        count, pretax, tax, total = known.sums()
        assert parsed["total"] == {
            "invoices": count,
            "pretax": yuan(pretax),
            "tax": yuan(tax),
            "total": yuan(total),
            "missing_pretax": 0,
            "missing_tax": 0,
            "missing_total": 0,
        }
    review = stats_json(known, "--status", "review", "--seller", "示例")
    count, _, _, total = known.sums("status = 'review' AND seller_name LIKE '%示例%'")
    assert isinstance(review["total"], dict) and (review["total"]["invoices"], review["total"]["total"]) == (
        count,
        yuan(total),
    )


def grouped(fen: int) -> str:
    return f"{Decimal(fen).scaleb(-2):,.2f}"


def test_the_table_has_a_row_per_group_and_a_total_row(known: KnownArchive) -> None:
    completed = fapiao("stats", "--by", "seller", cwd=known.folder)
    assert completed.returncode == 0, completed.stderr
    lines = [[cell.strip() for cell in line.split("│")[1:-1]] for line in completed.stdout.splitlines() if "│" in line]
    count, pretax, tax, total = known.sums()
    assert lines[-1] == ["total", str(count), grouped(pretax), grouped(tax), grouped(total)]
    acme = next(line for line in lines if line[0] == ACME.name)
    acme_count, _, _, acme_total = grouped_by_sql(known, "seller")[ACME.name]
    assert acme[1] == str(acme_count) and acme[4] == "13,950.61" == grouped(acme_total)
    assert any(line[0] == CHINESE_SELLER for line in lines)
    assert len(lines) == len(grouped_by_sql(known, "seller")) + 1  # the groups, the total (the header has ┃)


def test_bad_options_are_usage_errors(known: KnownArchive) -> None:
    for options, message in [
        (("--by", "buyer"), "'buyer' is not one of 'month', 'seller', 'variant'"),
        (("--since", "2025-7-1"), "'2025-7-1' is not a date like 2025-07-29"),
        (("--status", "OK!"), "'OK!' is not one of 'ok', 'review'"),
    ]:
        completed = fapiao("stats", *options, cwd=known.folder)
        assert completed.returncode == 2
        assert message in " ".join(completed.stderr.replace("│", " ").split())
