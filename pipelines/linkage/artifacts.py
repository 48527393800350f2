"""Model transparency: the trained model as JSON and Splink's charts as offline HTML, per run.

Nothing here contains personal data: the model is comparisons and m/u probabilities; the
waterfall charts are drawn with Splink's `remove_sensitive_data` (match weights only, no values).
Charts are self-contained HTML (the Vega libraries inlined), so the dashboard opens them without
any network access; the Vega-Lite specs are saved next to them for embedding.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from pipelines.linkage.link import LinkResult
from pipelines.linkage.prepare import PREPARED

WATERFALL_PAIRS = 8


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o660)
    os.replace(tmp, path)
    return path


def _save_chart(chart, out_dir: Path, name: str, files: dict[str, Path]) -> None:
    files[name] = _write(out_dir / f"{name}.html", chart.to_html(inline=True))
    files[f"{name}_spec"] = _write(out_dir / f"{name}.vl.json", json.dumps(chart.chart_dict, indent=1, sort_keys=True, default=str))


def waterfall_sample(matches: pl.DataFrame, n: int = WATERFALL_PAIRS) -> pl.DataFrame:
    """A few scored pairs spread over the probability range (same pairs for the same matches)."""
    scored = matches.filter(pl.col("match_weight").is_not_null()).sort("match_weight", "left_id", "right_id")
    if scored.height <= n:
        return scored
    step = (scored.height - 1) / (n - 1)
    return scored[[round(i * step) for i in range(n)]]


def save_model_artifacts(result: LinkResult, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write the run's linkage model and charts into `out_dir`; returns {artifact name: path}.

    - model: Splink's trained settings (comparisons, levels, m and u, prior), reloadable with
      ``splink.Linker(tables, "model.json")``;
    - settings: the LinkageSettings used; summary: counts of the run (no personal data);
    - match_weights, m_u_parameters, waterfall: charts (.html, plus .vl.json specs).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True, mode=0o770)
    files: dict[str, Path] = {}
    files["settings"] = _write(out / "linkage_settings.json", result.settings.model_dump_json(indent=2))
    files["summary"] = _write(out / "linkage_summary.json", json.dumps(result.stats, indent=2, sort_keys=True, default=str))
    if result.model is None or result.linker is None:
        return files
    files["model"] = _write(out / "model.json", json.dumps(result.model, indent=2, sort_keys=True))
    linker = result.linker
    _save_chart(linker.visualisations.match_weights_chart(), out, "match_weights", files)
    _save_chart(linker.visualisations.m_u_parameters_chart(), out, "m_u_parameters", files)

    sample = waterfall_sample(result.matches)
    if sample.height and result.left is not None and result.right is not None and result.db_api is not None:
        lrec = result.left.join(sample.select(pl.col("left_id").alias("unique_id")).unique(), on="unique_id", how="semi")
        rrec = result.right.join(sample.select(pl.col("right_id").alias("unique_id")).unique(), on="unique_id", how="semi")
        db = result.db_api
        lsdf = db.register(lrec.select(PREPARED).to_arrow())
        rsdf = db.register(rrec.select(PREPARED).to_arrow())
        scored = linker.inference.score_pairs(lsdf, rsdf)
        records = pl.from_dicts(scored.as_record_list(), infer_schema_length=None)
        wanted = sample.select(pl.col("left_id").alias("unique_id_l"), pl.col("right_id").alias("unique_id_r"))
        records = wanted.join(records, on=["unique_id_l", "unique_id_r"], how="inner", maintain_order="left")
        # score_pairs kept every column the waterfall needs; the linker's own flags (off for a lean
        # predict) only gate the waterfall's input check, so they are switched on for this call.
        flags = linker._settings_obj
        saved = flags._retain_intermediate_calculation_columns, flags._retain_matching_columns
        flags._retain_intermediate_calculation_columns = flags._retain_matching_columns = True
        try:
            chart = linker.visualisations.waterfall_chart(records.to_dicts(), filter_nulls=True, remove_sensitive_data=True)
        finally:
            flags._retain_intermediate_calculation_columns, flags._retain_matching_columns = saved
        _save_chart(chart, out, "waterfall", files)
    return files
