"""The incumbent tool's output files: All_Results.csv, All_Results_Condensed.csv, Prop64_Results.csv
and the summary JSON, with its columns, formats and keys (DOMAIN.md section 6).

Formats: dates MM/DD/YYYY, years to one decimal (365.25-day years, rounded like Go's "%.1f"),
"-" for none. The 18 eligibility columns are filled on the conviction row of each cannabis
conviction the policy decided; "Possible Other P64 Charges" is filled on any row whose comment
names a cannabis section the offense does not.

Deliberate differences from the incumbent are listed in docs/compat.md.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from pipelines import model
from pipelines.eligibility.policy import Policy
from pipelines.errors import ConservationError, InputError
from pipelines.sources.lines import BOM, LINE_SEPARATORS, absent_separator

ELIGIBILITY_COLUMNS: tuple[str, ...] = (
    "Case Number",
    "# of convictions on record",
    "Possible Other P64 Charges",
    "Occurred after 11/9/2016",
    "Superstrike Code Section(s)",
    "PC290 Code Section(s)",
    "PC290 Registration",
    "Date of Conviction",
    "Years Since This Conviction",
    "Years Since Any Conviction",
    "# of Prop 64 convictions",
    "# of HS 11357 convictions",
    "# of HS 11358 convictions",
    "# of HS 11359 convictions",
    "# of HS 11360 convictions",
    "Deceased",
    "Eligibility Determination",
    "Eligibility Reason",
)
CONDENSED_COLUMNS: tuple[str, ...] = (
    "CII_NUMBER", "PRI_NAME", "GENDER", "PRI_DOB", "RACE_DESCR", "CYC_DATE", "STP_EVENT_DATE",
    "STP_ORI_DESCR", "STP_ORI_CNTY_NAME", "DISP_DATE", "OFN", "OFFENSE_DESCR", "DISP_DESCR",
    "CONV_STAT_DESCR", "SENT_LOC_DESCR", "SENT_LENGTH", "SENT_TIME_CODE", "CYC_AGE", "COMMENT_TEXT",
    "END_OF_REC",
)
DISMISSAL, REDUCTION = "Eligible for Dismissal", "Eligible for Reduction"
_CANNABIS_RE = r"(11357|11358|11359|11360)"


def output_names(suffix: str = "") -> dict[str, str]:
    """The incumbent's file names; a suffix S is added as "_S" before the extension."""
    s = f"_{suffix}" if suffix else ""
    return {
        "all_results": f"All_Results{s}.csv",
        "condensed": f"All_Results_Condensed{s}.csv",
        "prop64": f"Prop64_Results{s}.csv",
        "summary": f"gogen{s}.json",
        "error": f"gogen{s}.err",
    }


# ---------------------------------------------------------------------------------------------
# The 18 eligibility columns.
def _years_text(days: pl.Expr) -> pl.Expr:
    """Days as years of 365.25 days with one decimal, exactly as Go's "%.1f" prints them.

    tenths = days * 40 / 1461, rounded to nearest; a tie would need 80 * days to be an odd
    multiple of 1461, which cannot happen, so integer arithmetic gives Go's correctly rounded result.
    """
    tenths = (days.abs() * 80 + 1461) // 2922
    sign = pl.when(days < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    text = pl.concat_str([sign, (tenths // 10).cast(pl.String), pl.lit("."), (tenths % 10).cast(pl.String)])
    return pl.when(days.is_null()).then(pl.lit("-1.0")).otherwise(text)


def _date_text(d: pl.Expr) -> pl.Expr:
    return d.dt.strftime("%m/%d/%Y").fill_null("01/01/0001")  # Go's zero time, as the incumbent


def _joined_or_dash(values: pl.Expr) -> pl.Expr:
    return pl.when(values.list.len() > 0).then(values.list.join(";")).otherwise(pl.lit("-"))


def possible_other_p64_charges(offense: pl.Expr, comment: pl.Expr) -> pl.Expr:
    """The comment, when it names a cannabis section the offense field does not (else "").

    The incumbent's rule: only when the offense itself is written (not blank / SEE COMMENT FOR
    CHARGE); flagged when the offense names no cannabis section, a different one, or for 11357 a
    subsection on the other side of (a)/(b) versus (c)/(d), or a subsection the offense lacks.
    """
    offense, comment = offense.fill_null(""), comment.fill_null("")
    written = ~offense.str.strip_chars().is_in(["", "SEE COMMENT FOR CHARGE"])
    in_comment = comment.str.extract(_CANNABIS_RE, 1)
    in_offense = offense.str.extract(_CANNABIS_RE, 1)
    sub_offense = offense.str.extract(r"11357\(([A-D])\)", 1)
    sub_comment = comment.str.extract(r"11357\(([A-D])\)", 1)
    side = {"A": "ab", "B": "ab", "C": "cd", "D": "cd"}
    flagged = (
        pl.when(~written | in_comment.is_null()).then(False)
        .when(in_offense.is_null()).then(True)
        .when(in_offense != in_comment).then(True)
        .when(in_offense != "11357").then(False)
        .when(sub_offense.is_not_null() & sub_comment.is_not_null())
        .then(sub_offense.replace_strict(side, default=None) != sub_comment.replace_strict(side, default=None))
        .when(sub_comment.is_not_null()).then(True)
        .otherwise(False)
    )
    return pl.when(flagged).then(comment).otherwise(pl.lit(""))


def eligibility_columns(determinations: pl.DataFrame, compute_at: date) -> pl.DataFrame:
    """row_index + the 18 columns (Possible Other P64 Charges excepted) for each determination."""
    at = pl.lit(compute_at, dtype=pl.Date)
    return determinations.select(
        "row_index",
        pl.col("case_numbers").fill_null("").alias("Case Number"),
        pl.col("convictions_on_record").cast(pl.String).alias("# of convictions on record"),
        pl.when(pl.col("conviction_date") > model.PROP64_DATE).then(pl.lit("Y")).otherwise(pl.lit("N"))
        .alias("Occurred after 11/9/2016"),
        _joined_or_dash(pl.col("superstrikes_on_record")).alias("Superstrike Code Section(s)"),
        _joined_or_dash(pl.col("pc290_offenses_on_record")).alias("PC290 Code Section(s)"),
        pl.when(pl.col("pc290_registration")).then(pl.lit("Yes")).otherwise(pl.lit("-")).alias("PC290 Registration"),
        _date_text(pl.col("conviction_date")).alias("Date of Conviction"),
        _years_text((at - pl.col("conviction_date")).dt.total_days()).alias("Years Since This Conviction"),
        _years_text((at - pl.col("last_conviction_date")).dt.total_days()).alias("Years Since Any Conviction"),
        pl.col("cannabis_convictions").cast(pl.String).alias("# of Prop 64 convictions"),
        *[pl.col(f"cannabis_{s}_convictions").cast(pl.String).alias(f"# of HS {s} convictions")
          for s in ("11357", "11358", "11359", "11360")],
        pl.when(pl.col("deceased")).then(pl.lit("Deceased")).otherwise(pl.lit("-")).alias("Deceased"),
        pl.col("determination").alias("Eligibility Determination"),
        pl.col("reason").alias("Eligibility Reason"),
    )


RAW_LINE = "raw_line"  # the input line exactly as written, when the reader kept it


def _csv_field(col: str) -> pl.Expr:
    """A value CSV-quoted only when it needs it (for files written without automatic quoting)."""
    value = pl.col(col)
    quoted = pl.concat_str([pl.lit('"'), value.str.replace_all('"', '""', literal=True), pl.lit('"')])
    return pl.when(value.str.contains(r'[",\r\n]')).then(quoted).otherwise(value).alias(col)


def _row_columns(rows: pl.DataFrame, determinations: pl.DataFrame, compute_at: date) -> pl.LazyFrame:
    """row_index + the 18 columns, only for rows that have any (decided, or flagged comment).

    "Possible Other P64 Charges" is computed only on rows whose comment names a cannabis section
    at all, a small share of a file: regular expressions over millions of rows are the cost here.
    """
    decided = eligibility_columns(determinations, compute_at).lazy()
    flagged = (
        rows.lazy()
        .select("row_index", "OFFENSE_DESCR", "COMMENT_TEXT")
        .filter(pl.col("COMMENT_TEXT").str.contains(_CANNABIS_RE))
        .select("row_index", possible_other_p64_charges(pl.col("OFFENSE_DESCR"), pl.col("COMMENT_TEXT"))
                .alias("Possible Other P64 Charges"))
        .filter(pl.col("Possible Other P64 Charges") != "")
    )
    both = decided.join(flagged, on="row_index", how="full", coalesce=True)
    return both.select("row_index", *ELIGIBILITY_COLUMNS)


@dataclass(frozen=True)
class InputFile:
    """One DOJ input file as the reader saw it (a row of its stats), for echoing its lines."""

    path: Path
    rows_accepted: int
    rows_quarantined: int
    blank_lines: int
    has_header: bool
    encoding: str
    version: tuple[int, int] | None = None  # (size, modification time in ns) when it was read


def file_version(path: Path) -> tuple[int, int]:
    """What tells whether a file changed since it was read: size and modification time."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def write_results(rows: pl.DataFrame, determinations: pl.DataFrame, compute_at: date, outputs: Path, *,
                  suffix: str = "", inputs: Sequence[InputFile] | None = None) -> dict[str, Path]:
    """Write All_Results, All_Results_Condensed and Prop64_Results; returns their paths.

    `rows` are the DOJ rows as read (in input order); `determinations` come from `determine`.
    All_Results and Prop64_Results echo each row's input line exactly as written and append the
    eligibility columns, so the 95 DOJ fields go out as they came in and need not be parsed: the
    lines come from `rows` (column ``raw_line``) or, given `inputs` (the files `rows` were read
    from, in order), from the files themselves, read again in blocks while writing, so they are
    never all in memory. Without either, the 95 parsed columns are written. Empty eligibility
    cells are written "".

    Only a small share of rows has any eligibility value (decided, or a flagged comment): those
    cells are computed for that share and laid out by position, never joined to the wide rows.
    For the echoed files the 18 cells of a row are one pre-quoted text, and a row without any is
    written as the 17 separators alone (the writer's null value), so each line is the raw line
    and one short text.
    """
    names = output_names(suffix)
    paths = {k: outputs / names[k] for k in ("all_results", "condensed", "prop64")}
    columns = _row_columns(rows, determinations, compute_at).collect()
    # Where each row's cells are in `columns` (null: the row has none), and the decided rows.
    found = (
        rows.select("row_index").with_row_index("_pos")
        .join(columns.select("row_index", pl.int_range(pl.len(), dtype=pl.UInt32).alias("_at"),
                             pl.col("Eligibility Determination").is_not_null().alias("_decided")),
              on="row_index", how="inner")
    )
    at = pl.repeat(None, rows.height, dtype=pl.UInt32, eager=True).scatter(found["_pos"], found["_at"])
    decided_at = found.filter("_decided")["_pos"].sort()
    cells = columns.drop("row_index")
    del columns, found

    if RAW_LINE in rows.columns or inputs is not None:
        lines = _without_cr(rows.get_column(RAW_LINE)).to_frame("line").lazy() if RAW_LINE in rows.columns \
            else _input_lines(inputs)
        _write_echoed(lines, rows.height, cells, at, paths["all_results"], paths["prop64"])
    else:
        _write_with_cells(rows.select(model.DOJ_COLUMNS), cells, at, paths["all_results"])
        _write_with_cells(rows.select(model.DOJ_COLUMNS)[decided_at], cells, at.gather(decided_at),
                          paths["prop64"])
    _write_with_cells(rows.select(CONDENSED_COLUMNS), cells, at, paths["condensed"])
    return paths


def _write_echoed(lines: pl.LazyFrame, n_rows: int, cells: pl.DataFrame, at: pl.Series, all_results: Path,
                  prop64: Path) -> None:
    """All_Results and Prop64_Results from the rows' input lines (column "line", in row order,
    without line ends).

    Both files are written in one streaming pass over the lines, each beside its row's 18 cells
    (pre-quoted as one text, picked by position); rows without any get the writer's null value.
    """
    # The header is the two columns' names; quote_style="never" writes names and lines as they are.
    header = [",".join(model.DOJ_COLUMNS), ",".join(ELIGIBILITY_COLUMNS)]
    options = {"quote_style": "never", "null_value": "," * (len(ELIGIBILITY_COLUMNS) - 1)}
    text = cells.select(
        pl.concat_str([_csv_field(c).fill_null("") for c in ELIGIBILITY_COLUMNS], separator=",")
    ).to_series().gather(at)
    decided = cells["Eligibility Determination"].is_not_null().gather(at).fill_null(False)
    position = pl.col("_pos")
    echoed = lines.with_row_index("_pos").select(
        pl.col("line").alias(header[0]),
        pl.lit(text).gather(position).alias(header[1]),
        pl.lit(decided).gather(position).alias("_decided"),
    )
    try:
        *_, counted = pl.collect_all([
            echoed.select(header).sink_csv(all_results, lazy=True, **options),
            echoed.filter("_decided").select(header).sink_csv(prop64, lazy=True, **options),
            echoed.select(pl.len()),
        ])
        counted = counted.item()
    except pl.exceptions.OutOfBoundsError:
        counted = "more"
    if counted != n_rows:
        raise ConservationError(f"All_Results: {n_rows} rows but {counted} input lines echoed")


def _input_lines(inputs: Sequence[InputFile]) -> pl.LazyFrame:
    """The accepted rows' input lines as the reader kept them (column "line"), file after file.

    A file the reader took whole (UTF-8, no blank or quarantined line) is scanned again, streaming:
    its lines after the header are its rows, one for one. Any other file is read again by the
    reader, with its lines. A file changed since it was read (size or modification time) stops
    the run: its lines would no longer be the rows decided.
    """
    from pipelines.sources.doj import UTF8, read_doj  # noqa: PLC0415

    parts = []
    for source in inputs:
        if source.version is not None and file_version(source.path) != source.version:
            raise InputError("the file changed while it was being processed; run again", file=source.path.name,
                             kind="OTHER")
        sep, has_cr = _absent_separator(source.path, bom_allowed=source.has_header)
        if source.rows_quarantined or source.blank_lines or source.encoding != UTF8 or sep is None:
            lines = read_doj([source.path], columns=["END_OF_REC"], raw_lines=True).rows.get_column(RAW_LINE)
            parts.append(_without_cr(lines).to_frame("line").lazy())
            continue
        scan = pl.scan_csv(
            source.path, has_header=False, skip_rows=int(source.has_header), separator=sep,
            quote_char=None, infer_schema=False, new_columns=["line"], raise_if_empty=False,
        )
        parts.append(scan.select(pl.col("line").str.strip_suffix("\r")) if has_cr else scan)
    return pl.concat(parts, how="vertical") if parts else pl.LazyFrame(schema={"line": pl.String})


def _without_cr(lines: pl.Series) -> pl.Series:
    return lines.str.strip_suffix("\r") if lines.str.ends_with("\r").any() else lines


def _absent_separator(path: Path, *, bom_allowed: bool) -> tuple[str | None, bool]:
    """A separator byte that does not occur in the file (None: every candidate does, or the file
    starts with a byte order mark on a data line, which the reader drops), and whether the file
    holds a carriage return."""
    with path.open("rb") as f:
        if f.read(len(BOM)) == BOM and not bom_allowed:
            return None, False
        if path.stat().st_size == 0:
            return LINE_SEPARATORS[0], False
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return absent_separator(data), data.find(b"\r") >= 0


_WRITE_ROWS = 1 << 19  # rows per slice when eligibility cells are laid out beside wide rows


def _write_with_cells(frame: pl.DataFrame, cells: pl.DataFrame, at: pl.Series, path: Path) -> None:
    """`frame` with the eligibility `cells` gathered at `at` beside it, as CSV (quoted when
    necessary). Written in slices, so the 18 mostly empty columns never exist for every row."""
    cells = cells.select(pl.all().cast(pl.Categorical))  # gathered as 4-byte codes, written as text
    with path.open("wb") as out:
        for start in range(0, max(frame.height, 1), _WRITE_ROWS):
            part = frame.slice(start, _WRITE_ROWS).hstack(cells.select(pl.all().gather(at.slice(start, _WRITE_ROWS))))
            part.write_csv(out, include_header=start == 0)


# ---------------------------------------------------------------------------------------------
# The summary JSON.
def _full_relief(convictions: pl.DataFrame, counts: dict[str, tuple[pl.Expr, pl.Expr]]) -> dict[str, int]:
    """For each name: people for whom every conviction passing `which` (and at least one) gets
    `relieved`, given as {name: (which, relieved)}. One grouping by person for all of them."""
    flags = []  # per conviction first (a literal `which` becomes a column), then summed per person
    for i, (which, relieved) in enumerate(counts.values()):
        passing = which.fill_null(False)
        flags += [passing.alias(f"n{i}"), (passing & relieved.fill_null(False)).alias(f"r{i}")]
    per_person = convictions.select("person_id", *flags).group_by("person_id").agg(pl.all().sum())
    totals = per_person.select(
        ((pl.col(f"n{i}") > 0) & (pl.col(f"n{i}") == pl.col(f"r{i}"))).sum().alias(name)
        for i, name in enumerate(counts)
    )
    return {name: int(totals[name].item()) for name in counts}


def _sorted_counts(frame: pl.DataFrame, key: str) -> dict[str, int]:
    counts = frame.group_by(key).len()
    return {k: int(v) for k, v in sorted(counts.iter_rows()) if k is not None}


def summary(
    *,
    county: str,
    facts: pl.DataFrame,
    determinations: pl.DataFrame,
    policy: Policy,
    compute_at: date,
    line_count: int,
    processing_seconds: float = 0.0,
) -> dict:
    """The incumbent's summary, key for key (docs/compat.md explains each count).

    `facts` holds every conviction (conviction_facts), `determinations` the policy's decisions.
    "No conviction in the last 7 years" counts use compute-at, not the day the tool runs.
    """
    decided = determinations.select("count_id", "determination", "reason", "rule_id")
    conv = facts.select(
        "count_id", "person_id", "is_felony", "conviction_date", "is_cannabis", "cannabis_section", "in_county",
    ).join(decided, on="count_id", how="left")
    county_cannabis = conv.filter(pl.col("in_county") & pl.col("is_cannabis"))
    seven_years_ago = _years_before(compute_at, 7)
    recent = pl.col("conviction_date") > seven_years_ago
    dismissed = pl.col("determination") == DISMISSAL
    relieved = pl.col("determination").is_in([DISMISSAL, REDUCTION])
    # "Dismiss all Prop 64" hypothetical: every cannabis conviction in the county dismissed.
    all_dismissed = pl.col("in_county") & pl.col("is_cannabis")

    def relief_block(dismiss: pl.Expr, relieve: pl.Expr) -> dict[str, tuple[pl.Expr, pl.Expr]]:
        return {
            "CountSubjectsNoConviction": (pl.lit(True), dismiss),
            "CountSubjectsNoConvictionLast7Years": (recent, dismiss),
            "CountSubjectsNoFelony": (pl.col("is_felony").fill_null(False), relieve),
        }

    blocks = {"current": relief_block(dismissed, relieved), "all": relief_block(all_dismissed, all_dismissed)}
    relief = _full_relief(conv, {f"{b}:{k}": v for b, block in blocks.items() for k, v in block.items()})
    current, all_prop64 = ({k: relief[f"{b}:{k}"] for k in blocks[b]} for b in blocks)

    earliest = county_cannabis["conviction_date"].min()
    tally = {r.id: r.tally for r in policy.rules}
    rule_tally = pl.col("rule_id").replace_strict(tally, default="none")
    county_decided = county_cannabis.filter(pl.col("determination").is_not_null())
    by_section_rules = {
        kind: {r.id for r in policy.rules if r.tally == "section" and r.determination == kind}
        for kind in (DISMISSAL, REDUCTION)
    }

    def by_section(kind: str) -> dict[str, int]:
        keys = _sections_of_rules(policy, by_section_rules[kind])
        hits = county_decided.filter(pl.col("rule_id").is_in(list(by_section_rules[kind])))
        counted = _sorted_counts(hits, "cannabis_section")
        return dict(sorted({**dict.fromkeys(keys, 0), **counted}.items()))

    additional = county_decided.filter(dismissed & (rule_tally == "reason"))
    return {
        "county": county,
        "earliestConviction": f"{(earliest or compute_at).isoformat()}T00:00:00Z",
        "lineCount": line_count,
        "processingTimeInSeconds": processing_seconds,
        "reliefWithCurrentEligibilityChoices": current,
        "reliefWithDismissAllProp64": all_prop64,
        "prop64ConvictionsCountInCountyByCodeSection": _sorted_counts(county_cannabis, "cannabis_section"),
        "subjectsWithProp64ConvictionCountInCounty": county_cannabis["person_id"].n_unique(),
        "prop64FelonyConvictionsCountInCounty": county_cannabis.filter(pl.col("is_felony").fill_null(False)).height,
        "prop64NonFelonyConvictionsCountInCounty": county_cannabis.filter(~pl.col("is_felony").fill_null(False)).height,
        "subjectsWithSomeReliefCount": conv.filter(relieved)["person_id"].n_unique(),
        "convictionDismissalCountByCodeSection": by_section(DISMISSAL),
        "convictionReductionCountByCodeSection": by_section(REDUCTION),
        "convictionDismissalCountByAdditionalRelief": _sorted_counts(additional, "reason"),
    }


def _sections_of_rules(policy: Policy, rule_ids: set[str]) -> list[str]:
    """The cannabis sections named by the convicted_of conditions of these rules ("11357", ...)."""
    out: list[str] = []
    for rule in policy.rules:
        if rule.id not in rule_ids:
            continue
        stack = [rule.condition]
        while stack:
            c = stack.pop()
            stack.extend(c.children)
            if c.kind == "predicate" and c.predicate.name == "convicted_of":
                out += [s.section for s in c.params.parsed() if s.section not in out]
    return out


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:
        return date(d.year - years, 3, 1)


def summary_json(data: dict) -> str:
    """Serialized like Go's encoding/json: compact, fields in struct order, map keys sorted."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def error_json(errors: Sequence[tuple[str, str, str]]) -> str:
    """The incumbent's error file: {file: {"errorType": kind, "errorMessage": message}}."""
    body = {file: {"errorType": kind, "errorMessage": message} for file, kind, message in errors}
    return json.dumps(dict(sorted(body.items())), separators=(",", ":"), ensure_ascii=False)
