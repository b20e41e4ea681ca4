"""The archive on PostgreSQL: the same schema (Alembic), the same decisions, a real server on loopback."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from invoice_ofd import ofd_digital
from invoice_pdf import invoice_pdf, not_invoice_pdf, sample_spec, uscc
from postgres_server import running_server, server_binaries
from sqlalchemy import text

from ingest.extract.reader import Limits
from ingest.importer import ExtractWith, import_paths
from ingest.unpack import UnpackLimits
from storage import ledger
from storage.archive import Archive, Outcome
from storage.db import current_revision, head_revision, open_database

EXTRACT = ExtractWith(Limits(), None, date(2026, 1, 1))


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if server_binaries() is None:
        message = "PostgreSQL server not installed (apt-get install postgresql); scripts/test installs it where it may"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with running_server(tmp_path_factory.mktemp("postgres")) as url:
        yield url


def test_import_on_postgresql_files_each_invoice_once(postgres_url: str, tmp_path: Path) -> None:
    engine = open_database(postgres_url)
    assert current_revision(engine) == head_revision()
    archive = Archive(tmp_path / "archive", engine, layout="{year}/{date}_{seller}_{number}")
    spec = sample_spec("数电专票")
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "1.pdf").write_bytes(invoice_pdf(spec))
    (inbox / "1 copy.pdf").write_bytes(invoice_pdf(spec))
    (inbox / "2.ofd").write_bytes(ofd_digital(spec))
    (inbox / "3.pdf").write_bytes(invoice_pdf(dataclasses.replace(spec, seal=False)))
    other = dataclasses.replace(spec.seller, name="另一家示例有限公司", tax_id=uscc("91310115MA1H7Q2X0"))
    (inbox / "4.pdf").write_bytes(invoice_pdf(dataclasses.replace(spec, seller=other)))
    (inbox / "5.pdf").write_bytes(not_invoice_pdf())
    summary = import_paths([inbox], archive, extract=EXTRACT, unpack_limits=UnpackLimits())
    assert summary.counts == {
        Outcome.ARCHIVED: 1,
        Outcome.DUPLICATE: 2,
        Outcome.COMPANION: 1,
        Outcome.CONFLICT: 1,
        Outcome.UNRECOGNIZED: 1,
    }
    again = import_paths([inbox], archive, extract=EXTRACT, unpack_limits=UnpackLimits())
    assert again.counts == {Outcome.DUPLICATE: 6}
    assert archive.check().clean
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from invoices")).scalar() == 1
        assert connection.execute(text("select count(*) from arrivals")).scalar() == 6
    found = ledger.find(engine, spec.number.replace("0", "O"))
    assert [view.invoice.invoice_number for view in found.invoices] == [spec.number]
    assert ledger.status(engine).files_by_role == {"primary": 1, "companion": 1, "conflict": 1, "unrecognized": 1}
    moves = Archive(archive.root, engine, layout="{seller}/{number}").relayout()
    assert len(moves) == 2 and archive.check().clean
    engine.dispose()
