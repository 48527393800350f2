"""link_persons / find_duplicates: the deterministic pass, then Splink, merged into one frame of pairs.

    result = link_persons(doj_persons, court_persons, left_counts=doj_counts, right_counts=court_counts)
    result.matches            # left_id, right_id, match_probability, match_weight, is_match, pass, ...
    result.model              # the trained Splink model (a settings dict, JSON-serialisable)

Both work on any frames in the canonical PERSON schema (pipelines.model.PERSON). Splink runs in an
in-process DuckDB database; nothing leaves the machine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from pipelines.linkage.deterministic import deterministic_links
from pipelines.linkage.prepare import PREPARED, prepare_persons
from pipelines.linkage.settings import LinkageSettings
from pipelines.linkage.splink_model import (
    AGREEMENT,
    COMPARISONS,
    EM_BLOCKS,
    PRIOR_RULES,
    floor_m,
    level_labels,
    remove_matches_from_u,
    splink_settings,
)

PASSES = ("deterministic", "probabilistic", "review")

# One row per candidate pair kept (probability >= keep_threshold, or linked deterministically).
MATCHES: dict[str, pl.DataType] = {
    "left_id": pl.String,
    "right_id": pl.String,
    "match_probability": pl.Float64,  # Splink's; 1.0 for a deterministic link Splink did not score
    "match_weight": pl.Float64,  # Splink's log2 Bayes factor; null when not scored
    "is_match": pl.Boolean,  # the decision: a link
    "pass": pl.String,  # one of PASSES: what decided
    "agreement": pl.String,  # fields that agreed, comma-joined: "cii,case_number,name,dob"
    "evidence": pl.String,  # the rule(s) and the comparison levels, readable
}

Progress = Callable[[str], None]


@dataclass
class LinkResult:
    """What a linkage run produced."""

    matches: pl.DataFrame  # schema MATCHES, sorted by (left_id, right_id)
    model: dict[str, Any] | None  # trained Splink settings (m/u, prior, comparisons), or None
    settings: LinkageSettings
    stats: dict[str, Any] = field(default_factory=dict)
    left: pl.DataFrame | None = None  # prepared records (see prepare.PREPARED), for review and charts
    right: pl.DataFrame | None = None
    link_type: str = "link_only"
    linker: Any = None  # the live Splink linker (charts); not serialisable
    db_api: Any = None  # its DuckDB database

    @property
    def links(self) -> pl.DataFrame:
        """The pairs decided to be the same person."""
        return self.matches.filter(pl.col("is_match"))


def link_persons(
    left: pl.DataFrame,
    right: pl.DataFrame,
    settings: LinkageSettings | None = None,
    *,
    left_counts: pl.DataFrame | pl.LazyFrame | None = None,
    right_counts: pl.DataFrame | pl.LazyFrame | None = None,
    progress: Progress | None = None,
) -> LinkResult:
    """Link the persons of two PERSON frames (for example DOJ and court): which records are one person.

    Pairs come from a deterministic pass (identifiers; case number with agreeing name) and from a
    Fellegi-Sunter model trained on the data by Splink (EM for m, random sampling for u). The
    optional COUNT frames supply each person's (county, case number) keys; a `case_keys` list
    column on the PERSON frames is used instead when present.
    """
    settings = settings or LinkageSettings()
    say = progress or (lambda _msg: None)
    say("preparing records")
    lp = prepare_persons(left, left_counts, extra_nicknames=settings.extra_nicknames)
    rp = prepare_persons(right, right_counts, extra_nicknames=settings.extra_nicknames)
    return _run(lp, rp, settings, "link_only", say)


def find_duplicates(
    persons: pl.DataFrame,
    settings: LinkageSettings | None = None,
    *,
    counts: pl.DataFrame | pl.LazyFrame | None = None,
    progress: Progress | None = None,
) -> LinkResult:
    """Pairs of records within one PERSON frame that are the same person (left_id < right_id)."""
    settings = settings or LinkageSettings()
    say = progress or (lambda _msg: None)
    say("preparing records")
    prepared = prepare_persons(persons, counts, extra_nicknames=settings.extra_nicknames)
    return _run(prepared, None, settings, "dedupe_only", say)


# ---------------------------------------------------------------------------------------------


def _run(lp: pl.DataFrame, rp: pl.DataFrame | None, s: LinkageSettings, link_type: str, say: Progress) -> LinkResult:
    dedupe = rp is None
    stats: dict[str, Any] = {"left_records": lp.height, "right_records": (lp if dedupe else rp).height}

    det = pl.DataFrame(schema={"left_id": pl.String, "right_id": pl.String, "rules": pl.String,
                               "name_agrees": pl.Boolean, "dob_agrees": pl.Boolean})
    if s.deterministic and lp.height and (dedupe or rp.height):
        say("deterministic pass")
        det = deterministic_links(lp, rp, ids=s.deterministic_ids)
    stats["deterministic_links"] = det.height

    scored = _empty_scored()
    model = None
    linker = db_api = None
    enough = lp.height >= 2 and (dedupe or rp.height >= 1)
    if s.probabilistic and enough:
        scored, model, linker, db_api, splink_stats = _splink(lp, rp, det, s, link_type, say)
        stats.update(splink_stats)

    matches = _merge(det, scored, s)
    stats["links"] = int(matches["is_match"].sum())
    stats["review_band_pairs"] = int(
        matches.filter(
            (pl.col("pass") == "probabilistic")
            & pl.col("match_probability").is_between(s.review_band[0], s.review_band[1], closed="left")
        ).height
    )
    return LinkResult(matches=matches, model=model, settings=s, stats=stats, left=lp,
                      right=lp if dedupe else rp, link_type=link_type, linker=linker, db_api=db_api)


def _empty_scored() -> pl.DataFrame:
    return pl.DataFrame(schema={"left_id": pl.String, "right_id": pl.String, "match_probability": pl.Float64,
                                "match_weight": pl.Float64, **{f"gamma_{c}": pl.Int32 for c in COMPARISONS}})


def training_sample(frame: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """At most `n` records, chosen by a seeded hash of the id (the same records on every run)."""
    if frame.height <= n:
        return frame
    return frame.sort(pl.col("unique_id").hash(seed), "unique_id").head(n).sort("unique_id")


def _arrow(frame: pl.DataFrame):
    """The frame as Arrow without copying its strings (string views: DuckDB reads them as they
    are; the default conversion copies every string into a new buffer)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def _connect(s: LinkageSettings):
    import duckdb  # noqa: PLC0415
    from splink import DuckDBAPI  # noqa: PLC0415

    con = duckdb.connect(":memory:")
    # The prior and u are counts of hash-sampled pairs (the same with any thread count); EM below
    # runs single-threaded.
    con.execute(f"SET threads = {s.threads}")
    con.execute("SET preserve_insertion_order = false")
    if s.memory_limit:
        con.execute(f"SET memory_limit = '{s.memory_limit}'")
    if s.temp_directory:
        con.execute(f"SET temp_directory = '{s.temp_directory}'")
    return con, DuckDBAPI(con)


def _splink(lp, rp, det, s: LinkageSettings, link_type: str, say: Progress):
    from splink import Linker  # noqa: PLC0415

    logging.getLogger("splink").setLevel(logging.ERROR)
    dedupe = rp is None
    con, db = _connect(s)
    stats: dict[str, Any] = {}

    # Train on a seeded sample: m and u do not need every record, and the cost stays flat.
    say("training the model")
    lt = training_sample(lp, s.train_records, s.seed).select(PREPARED)
    frames = [db.register(_arrow(lt), dataset_display_name="train_left")]
    if not dedupe:
        rt = training_sample(rp, s.train_records, s.seed + 1).select(PREPARED)
        frames.append(db.register(_arrow(rt), dataset_display_name="train_right"))
    trainer = Linker(frames if not dedupe else frames[0], splink_settings(link_type, max_iterations=s.em_max_iterations),
                     log_level=None)
    try:
        trainer.training.estimate_probability_two_random_records_match(
            list(PRIOR_RULES), recall=s.deterministic_recall
        )
    except ValueError:
        # More identifier pairs than the assumed recall allows: keep Splink's default prior.
        stats["prior"] = "default"
    prior = trainer.misc.save_model_to_json()["probability_two_random_records_match"]
    if not 0 < prior < 1:
        # No identifier pair at all (a small frame) gives a prior of 0, which no evidence could
        # overcome. Instead: half the records of the smaller side have a link, or one record in
        # ten a duplicate.
        n_pairs = lt.height * (lt.height - 1) / 2 if dedupe else lt.height * rt.height
        expected = 0.1 * lt.height if dedupe else 0.5 * min(lt.height, rt.height)
        fallback = min(max(expected / max(n_pairs, 1.0), 1e-9), 0.5)
        trainer = Linker(frames if not dedupe else frames[0],
                         dict(trainer.misc.save_model_to_json(), probability_two_random_records_match=fallback),
                         log_level=None)
        stats["prior"] = "assumed (no identifier pairs)"
    trainer.training.estimate_u_using_random_sampling(max_pairs=s.u_max_pairs, seed=s.seed)
    con.execute("SET threads = 1")  # EM sums probabilities: a fixed order gives the same model every run
    inputs = frames if not dedupe else frames[0]
    for rule in EM_BLOCKS:
        trainer = _em_session(trainer, inputs, rule, s, stats)
    model = floor_m(remove_matches_from_u(trainer.misc.save_model_to_json(), s.u_max_pairs))
    # Splink names each linker's cached tables by a random id; it is not part of the model.
    model.pop("linker_uid", None)
    # The prior needs no rescaling: sampling records independently on each side keeps the share
    # of linked pairs among all pairs.
    stats["training_records"] = lt.height + (0 if dedupe else rt.height)
    # The training tables are not needed any more: free their memory before scoring (the cache
    # is shared by every linker of this database, so it is invalidated, not just emptied).
    trainer.table_management.invalidate_cache()
    del trainer, frames

    say("scoring candidate pairs")
    con.execute(f"SET threads = {s.threads}")
    # The output keeps each comparison's match weight (mw_*), from which its level is read back
    # (`_gammas_from_weights`): much narrower than keeping both records' columns.
    model_predict = dict(model, retain_matching_columns=False, retain_intermediate_calculation_columns=True)
    left_full = db.register(_arrow(lp.select(PREPARED)), dataset_display_name="left_records")
    if dedupe:
        linker = Linker(left_full, model_predict, log_level=None)
    else:
        right_full = db.register(_arrow(rp.select(PREPARED)), dataset_display_name="right_records")
        linker = Linker([left_full, right_full], model_predict, log_level=None)
    for column in ("full_name", "last_name_flat"):
        linker.table_management.compute_tf_table(column)

    keep = s.keep_threshold if s.keep_threshold > 0 else None
    if dedupe or not s.skip_resolved or det.height == 0:
        predictions = [linker.inference.predict(threshold_match_probability=keep, warning_mode="never")]
        stats["right_records_scored"] = (lp if dedupe else rp).height
    else:
        resolved = det.select(pl.col("right_id").alias("unique_id")).unique()
        unresolved_r = rp.join(resolved, on="unique_id", how="anti").select(PREPARED)
        stats["right_records_scored"] = unresolved_r.height
        predictions = []
        if unresolved_r.height:
            say(f"scoring {unresolved_r.height:,} records not linked deterministically")
            sdf = db.register(_arrow(unresolved_r), dataset_display_name="right_unresolved")
            predictions.append(linker.inference.predict_between(
                left_full, sdf, threshold_match_probability=keep, warning_mode="never"))
        # The deterministic links are scored too, for their evidence: exactly those pairs, given
        # to Splink as its blocked pairs (keys: "<dataset>-__-<unique_id>", as Splink writes them).
        say(f"scoring {det.height:,} deterministic links for evidence")
        pairs = det.select(
            pl.lit("0").alias("match_key"),
            (pl.lit("left_records-__-") + pl.col("left_id")).alias("join_key_l"),
            (pl.lit("right_records-__-") + pl.col("right_id")).alias("join_key_r"),
        )
        linker.table_management.register_blocked_pairs_for_predict(
            db.register(_arrow(pairs), dataset_display_name="deterministic_pairs"))
        predictions.append(linker.inference.predict(warning_mode="never"))
    cols = ", ".join(["unique_id_l AS left_id", "unique_id_r AS right_id", "match_probability", "match_weight",
                      *[f"mw_{c}" for c in COMPARISONS]])
    parts = []
    for p in predictions:
        parts.append(con.sql(f"SELECT {cols} FROM {p.physical_name}").pl())
        p.drop_table_from_database_and_remove_from_cache()
    scored = _gammas_from_weights(pl.concat(parts), linker) if parts else _empty_scored()
    if dedupe:
        # Splink orders each pair by its own key; ours is left_id < right_id.
        swap = pl.col("left_id") > pl.col("right_id")
        scored = scored.with_columns(
            pl.when(swap).then(pl.col("right_id")).otherwise(pl.col("left_id")).alias("left_id"),
            pl.when(swap).then(pl.col("left_id")).otherwise(pl.col("right_id")).alias("right_id"),
        )
    scored = scored.unique(["left_id", "right_id"], keep="first").sort("left_id", "right_id")
    stats["pairs_scored_kept"] = scored.height
    return scored, model, linker, db, stats


def _gammas_from_weights(scored: pl.DataFrame, linker) -> pl.DataFrame:
    """gamma_<comparison> (the level) from mw_<comparison> (the level's match weight, as the model
    gives it): every level of a comparison has its own weight."""
    levels = pl.DataFrame(linker.visualisations.match_weights_chart().chart_dict["data"]["values"]).filter(
        pl.col("comparison_name").is_in(list(COMPARISONS))
    ).select(
        "comparison_name",
        pl.col("log2_bayes_factor").fill_null(0.0).round(6).alias("_w"),
        pl.col("comparison_vector_value").cast(pl.Int32).alias("gamma"),
    )
    out = scored
    for comp in COMPARISONS:
        table = (
            levels.filter(pl.col("comparison_name") == comp)
            .sort("gamma", descending=True)
            .unique("_w", keep="first", maintain_order=True)  # equal weights: the more specific level
            .select("_w", pl.col("gamma").alias(f"gamma_{comp}"))
        )
        out = out.with_columns(pl.col(f"mw_{comp}").round(6).alias("_w")).join(table, on="_w", how="left").drop("_w")
    return out.select("left_id", "right_id", "match_probability", "match_weight",
                      *[f"gamma_{c}" for c in COMPARISONS])


def _em_session(trainer, inputs, rule: str, s: LinkageSettings, stats: dict[str, Any]):
    """One EM session; returns the linker holding the updated model.

    A comparison level no true match ever shows (say, "gender differs" in a source that never
    miscodes gender) sees its m probability shrink towards zero each iteration until it underflows
    and Splink refuses the value. The session is then re-run from the unchanged model with fewer
    iterations: the estimates that matter converge in a handful.
    """
    from splink import Linker  # noqa: PLC0415
    from splink.internals.exceptions import EMTrainingException  # noqa: PLC0415

    # A failed session can leave the linker's settings half-changed: retries start from a copy.
    before = trainer.misc.save_model_to_json()
    for iterations in (None, 10, 5, 2):
        if iterations is not None:
            model = dict(before, max_iterations=iterations)
            trainer = Linker(inputs, model, log_level=None)
            stats.setdefault("em_retries", []).append({"blocking_rule": rule, "max_iterations": iterations})
        try:
            trainer.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=s.em_max_pairs)
            return trainer
        except EMTrainingException:
            break  # the rule pairs no records (a small frame): nothing to learn from it
        except ValueError as err:
            if "minimum allowed value" not in str(err):
                raise
    stats.setdefault("em_skipped", []).append(rule)
    return Linker(inputs, before, log_level=None)


def _merge(det: pl.DataFrame, scored: pl.DataFrame, s: LinkageSettings) -> pl.DataFrame:
    """Deterministic links and Splink's scores, one row per pair, with agreement and evidence.

    Built from plain columns (no per-row lists): this runs on a row per kept pair.
    """
    labels = level_labels()
    both = det.with_columns(pl.lit(True).alias("deterministic")).join(
        scored, on=["left_id", "right_id"], how="full", coalesce=True
    )
    is_det = pl.col("deterministic").fill_null(False)
    rules = pl.col("rules").fill_null("")
    # For each agreement field: a deterministic rule or flag says so, or a Splink level does.
    field_levels: dict[str, list[tuple[str, int]]] = {}
    for comp in COMPARISONS:
        for gamma, label in labels[comp].items():
            if (name := AGREEMENT.get((comp, label))) is not None:
                field_levels.setdefault(name, []).append((comp, gamma))
    from_det = {
        "cii": rules.str.contains(r"\bcii\b"), "ssn": rules.str.contains(r"\bssn\b"),
        "cdl": rules.str.contains(r"\bcdl\b"), "case_number": rules.str.contains("case_number"),
        "name": pl.col("name_agrees").fill_null(False), "dob": pl.col("dob_agrees").fill_null(False),
    }
    agreed = []
    for name in _FIELD_ORDER:
        conds = [pl.col(f"gamma_{comp}") == gamma for comp, gamma in field_levels.get(name, [])]
        if name in from_det:
            conds.append(from_det[name])
        if conds:
            agreed.append(pl.when(pl.any_horizontal(conds).fill_null(False)).then(pl.lit(name)))
    texts = [
        pl.when(pl.col(f"gamma_{comp}") >= 0).then(
            pl.lit(f"{comp}: ") + pl.col(f"gamma_{comp}").replace_strict(labels[comp], default=None,
                                                                           return_dtype=pl.String)
        )
        for comp in COMPARISONS
    ]
    out = both.with_columns(
        pl.when(is_det).then(pl.col("match_probability").fill_null(1.0)).otherwise(pl.col("match_probability"))
        .alias("match_probability"),
        (is_det | (pl.col("match_probability") >= s.match_threshold)).fill_null(False).alias("is_match"),
        pl.when(is_det).then(pl.lit("deterministic")).otherwise(pl.lit("probabilistic")).alias("pass"),
        pl.concat_str(agreed, separator=",", ignore_nulls=True).alias("agreement"),
        pl.concat_str([pl.when(is_det).then(pl.lit("rule: ") + pl.col("rules")), *texts],
                      separator="; ", ignore_nulls=True).alias("evidence"),
    )
    return out.select([pl.col(c).cast(t) for c, t in MATCHES.items()]).sort("left_id", "right_id")


_FIELD_ORDER = ("cii", "ssn", "cdl", "ssn_or_cdl", "case_number", "name", "surname", "first_name", "dob",
                "dob_partial", "id_partial", "middle_name", "gender")
