"""Import speed: invoices per second for `fapiao import` beside `fapiao extract` on the same files.

Usage: python bench/import_speed.py [--invoices 1000] [--duplicates 0.2] [--jobs 0] [--keep DIR]

Draws N distinct generated invoices (the tests' generator: 数电普票, 数电专票 and
old-style, with QR codes) plus a share of byte-identical and re-rendered
duplicates, then times, each as a fresh process:
  1. `fapiao extract --json` on every file (reading only; one process),
  2. `fapiao import` into an empty archive (reading + storing), with --jobs,
  3. `fapiao import` again (everything is a duplicate: the cost of a re-scan).
Prints files per second, the storage overhead as a ratio to extraction, and
the peak resident memory of each run (GNU time's %M, which includes only the
largest process; worker processes are listed separately where present).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from invoice_pdf import invoice_pdf, sample_spec

VARIANTS = ("数电普票", "数电专票", "电子普票(旧)")


def draw(folder: Path, invoices: int, duplicate_share: float, rng: random.Random) -> int:
    folder.mkdir(parents=True)
    files = 0
    for i in range(invoices):
        variant = VARIANTS[i % len(VARIANTS)]
        number = f"2511700000{i:010d}" if variant != "电子普票(旧)" else f"{i:08d}"
        spec = sample_spec(variant, number=number)
        data = invoice_pdf(spec)
        (folder / f"{i:05d}.pdf").write_bytes(data)
        files += 1
        if rng.random() < duplicate_share:
            if rng.random() < 0.5:
                (folder / f"{i:05d}-copy.pdf").write_bytes(data)
            else:
                (folder / f"{i:05d}-resent.pdf").write_bytes(invoice_pdf(dataclasses.replace(spec, seal=False)))
            files += 1
    return files


def timed(command: list[str], cwd: Path) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of `command`."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *command], cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command[:3]} failed: {done.stderr[-2000:]}")
    return seconds, int(done.stderr.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--duplicates", type=float, default=0.2, help="share of invoices sent twice")
    parser.add_argument("--jobs", type=int, default=0, help="import --jobs (0: the CPU count, at most 4)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="fapiao-bench-"))
    fapiao = [sys.executable, "-m", "ingest.cli"]
    try:
        inbox = work / "inbox"
        files = draw(inbox, args.invoices, args.duplicates, random.Random(7))
        (work / "config.toml").write_text('[archive]\nroot = "archive"\n[extract]\nocr = false\n', encoding="utf-8")
        names = sorted(str(p) for p in inbox.iterdir())
        extract_s, extract_kb = timed([*fapiao, "extract", "--json", *names], work)
        import_s, import_kb = timed([*fapiao, "import", "inbox", "--jobs", str(args.jobs)], work)
        again_s, again_kb = timed([*fapiao, "import", "inbox", "--jobs", str(args.jobs)], work)
        # The same import in one process: the storage overhead over extraction alone, like for like.
        (work / "config1.toml").write_text('[archive]\nroot = "archive1"\n[extract]\nocr = false\n', encoding="utf-8")
        one_s, _ = timed([*fapiao, "import", "inbox", "--config", "config1.toml", "--jobs", "1"], work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"files: {files} ({args.invoices} invoices, {files - args.invoices} duplicates)")
    extract_rate = files / extract_s
    print(
        f"extract alone (1 process): {extract_rate:6.1f} files/s  {extract_s:6.1f} s  peak {extract_kb / 1024:.0f} MiB"
    )
    print(
        f"import, --jobs {args.jobs or 'auto'}:        {files / import_s:6.1f} files/s  {import_s:6.1f} s  "
        f"peak {import_kb / 1024:.0f} MiB (writer process)"
    )
    print(f"import, --jobs 1:           {files / one_s:6.1f} files/s  {one_s:6.1f} s")
    print(
        f"import again (all known):   {files / again_s:6.1f} files/s  {again_s:6.1f} s  peak {again_kb / 1024:.0f} MiB"
    )
    print(f"storage overhead, one process: {one_s / extract_s:.2f}x the time of extraction alone")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
