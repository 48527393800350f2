"""Benchmark: read a DOJ research file and parse it into the canonical frames.

run = load_doj: read_doj (the columns the canonical frames need) + doj_persons + doj_counts,
giving the raw rows back as soon as each step is done with them. The data is a
synthetic county from `autoclear generate` (cached under bench/out/data/doj_<scale>/); where the
generator is not available, template rows are repeated with distinct SUBJECT_IDs instead.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from bench.harness import SCALE_ROWS, Case

SEED = 20190701


def _generate(rows: int, out: Path) -> bool:
    """`autoclear generate`; False when it is not available or fails."""
    exe = Path(sys.executable).with_name("autoclear")
    cmd = [str(exe), "generate", "--rows", str(rows), "--seed", str(SEED), "--out", str(out)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and any(out.glob("*.dat"))


def _template_lines() -> list[list[str]]:
    from pipelines.model import DOJ_COLUMNS

    def row(**fields: str) -> list[str]:
        return [fields.get(c, "") for c in DOJ_COLUMNS]

    person = {"PRI_NAME": "DOE,JOHN Q", "PRI_DOB": "19700314", "CII_NUMBER": "A12345678", "GENDER": "M",
              "RACE_DESCR": "HISPANIC", "STP_ORI_CNTY_NAME": "LOS ANGELES", "END_OF_REC": "#"}
    return [
        row(**person, CNT_ORDER="001001001000", STP_TYPE_DESCR="ARREST/DETAINED/CITED", STP_EVENT_DATE="19990101",
            OFFENSE_DESCR="11359 HS-POSSESS MARIJUANA FOR SALE", OFFENSE_TOC="F", OFN="9912345"),
        row(**person, CNT_ORDER="001002001000", STP_TYPE_DESCR="COURT ACTION", STP_EVENT_DATE="19990301",
            OFFENSE_DESCR="11359 HS-POSSESS MARIJUANA FOR SALE", OFFENSE_TOC="F", OFN="BA123456",
            DISP_DESCR="CONVICTED-JAIL", CONV_STAT_DESCR="FELONY", SENT_LENGTH="90", SENT_TIME_CODE="D"),
        row(**person, CNT_ORDER="001002001000", STP_TYPE_DESCR="COURT ACTION", STP_EVENT_DATE="19990301",
            OFFENSE_DESCR="11359 HS-POSSESS MARIJUANA FOR SALE", OFFENSE_TOC="F", OFN="BA123456",
            DISP_DESCR="CONVICTED-PROBATION", CONV_STAT_DESCR="FELONY", SENT_LENGTH="3", SENT_TIME_CODE="Y"),
        row(**person, CNT_ORDER="001002002000", STP_TYPE_DESCR="COURT ACTION", STP_EVENT_DATE="19990301",
            OFFENSE_DESCR="SEE COMMENT FOR CHARGE", COMMENT_TEXT=":CHRG 11358 HS", OFFENSE_TOC="F", OFN="BA123456",
            DISP_DESCR="DISMISSED/FURTHERANCE OF JUSTICE"),
        row(**person, CNT_ORDER="002001001000", STP_TYPE_DESCR="COURT ACTION", STP_EVENT_DATE="20050607",
            OFFENSE_DESCR="23152(A) VC-DUI ALCOHOL/DRUGS", OFFENSE_TOC="M", OFN="5CR01234",
            DISP_DESCR="CONVICTED", CONV_STAT_DESCR="MISDEMEANOR", SENT_LENGTH="36", SENT_TIME_CODE="M"),
    ]


def _replicate(rows: int, out: Path) -> None:
    """Template rows repeated with distinct SUBJECT_IDs (vectorized)."""
    import polars as pl

    from pipelines.model import DOJ_COLUMNS

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(_template_lines())
    lines = buf.getvalue().splitlines()
    marker = lines[0].split(",")[2]  # SUBJECT_ID is empty in the template: fill it in below
    assert marker == ""
    n = len(lines)
    template = pl.Series("line", lines)
    frame = pl.DataFrame({"i": pl.int_range(rows, eager=True)}).with_columns(
        template.gather(pl.int_range(rows, eager=True) % n).alias("line")
    ).select(
        pl.concat_str(
            pl.col("line").str.extract(r"^([^,]*,[^,]*,)", 1),
            (pl.col("i") // n + 1).cast(pl.String).str.zfill(8),
            pl.col("line").str.extract(r"^[^,]*,[^,]*,(.*)$", 1),
        )
    )
    out.mkdir(parents=True, exist_ok=True)
    with (out / "replicated_doj_01.dat").open("w") as f:
        f.write(",".join(DOJ_COLUMNS) + "\n")
        frame.write_csv(f, include_header=False, quote_style="never", separator="\x1f")


def prepare(scale: str, datadir: Path) -> dict:
    out = datadir / f"doj_{scale}"
    if not any(out.glob("*.dat")) and not _generate(SCALE_ROWS[scale], out):
        _replicate(SCALE_ROWS[scale], out)
    return {"paths": [str(p) for p in sorted(out.glob("*.dat"))]}


def run(paths: list[str]) -> dict:
    from pipelines.sources.doj import load_doj

    loaded = load_doj(paths)
    return {
        "rows": int(loaded.stats["rows_accepted"].sum()),
        "notes": f"{loaded.persons.height:,} persons, {loaded.counts.height:,} counts, "
                 f"{loaded.quarantine.height} quarantined",
    }


CASES = [
    Case(
        name="DOJ read + parse",
        scales=["100k", "1M", "2M"],
        prepare=prepare,
        run=run,
        target="2M: < 4 s, < 2 GB",
        repeat={"2M": 3},
        rows=lambda scale: SCALE_ROWS[scale],
    )
]
