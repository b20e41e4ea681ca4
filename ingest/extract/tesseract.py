"""Optical character recognition with the Tesseract program (the only place that runs it).

Tesseract is a system package (`apt-get install tesseract-ocr tesseract-ocr-chi-sim`),
not a Python one: extraction works without it and only scans lose their
names, tax ids and amounts. We call the command line rather than a wrapper
library because all we need is one call that returns TSV.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from dataclasses import dataclass

from PIL import Image

LANGUAGES = ("chi_sim", "eng")
# A page takes about a second; a minute means Tesseract is stuck on something hostile.
_TIMEOUT_SECONDS = 60


class OcrError(Exception):
    """Tesseract could not read the image (it failed, timed out or printed something unreadable)."""


@dataclass(frozen=True)
class OcrWord:
    """One word as Tesseract saw it, in pixels of the image it was given."""

    text: str
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int]  # (block, paragraph, line): words of one printed line share it

    @property
    def right(self) -> int:
        return self.left + self.width


@dataclass(frozen=True)
class Tesseract:
    program: str

    def read_words(self, image: Image.Image) -> list[OcrWord]:
        """Every word on `image`, in reading order."""
        png = io.BytesIO()
        image.save(png, format="PNG")
        command = [self.program, "stdin", "stdout", "-l", "+".join(LANGUAGES), "--psm", "6", "tsv"]
        # One OpenMP thread: the daemon shares a small machine, and for one page more threads barely help.
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run(
                command, input=png.getvalue(), capture_output=True, timeout=_TIMEOUT_SECONDS, env=env, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise OcrError(f"tesseract took over {_TIMEOUT_SECONDS} s on one page") from exc
        except OSError as exc:
            raise OcrError(f"cannot run {self.program}: {exc.strerror or exc}") from exc
        if done.returncode != 0:
            last_line = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
            raise OcrError(f"tesseract failed (exit {done.returncode}): {last_line}")
        return parse_tsv(done.stdout.decode("utf-8", "replace"))


def parse_tsv(text: str) -> list[OcrWord]:
    """Tesseract's TSV (level 5 rows are words) as OcrWords; blank words dropped."""
    words: list[OcrWord] = []
    for row in csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != "5" or not (row.get("text") or "").strip():
            continue
        try:
            left, top, width, height = (int(row[key]) for key in ("left", "top", "width", "height"))
            line = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise OcrError(f"tesseract printed a TSV row we cannot read: {row!r}") from exc
        words.append(OcrWord(row["text"].strip(), left, top, width, height, line))
    return words


def find_tesseract() -> Tesseract | None:
    """The installed Tesseract, if it has the languages invoices need; None otherwise."""
    program = shutil.which("tesseract")
    if program is None:
        return None
    try:
        listed = subprocess.run(
            [program, "--list-langs"], capture_output=True, timeout=_TIMEOUT_SECONDS, check=False
        ).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return None
    installed = {line.strip() for line in listed.splitlines()}
    return Tesseract(program) if all(language in installed for language in LANGUAGES) else None
