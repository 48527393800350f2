"""Deduplication and DOJ <-> court person linkage.

Public API (every function works on any frames in the canonical schemas of pipelines.model):

- `dedupe_persons(persons, settings=None, counts=None) -> person_id, cluster_id, cluster_size`
- `find_duplicates(persons, settings=None, counts=None) -> LinkResult` (pairs within one source)
- `dedupe_counts(counts) -> counts` (one row per count_id; `copies`, `conflicting_copies`)
- `link_persons(left, right, settings=None, left_counts=None, right_counts=None) -> LinkResult`
- `unify_persons(doj_persons, court_persons, links, doj_clusters=, court_clusters=) -> person_key`
- `review_queue(result)`, `write_review_queue(queue, dest)`, `read_review_decisions(path)`,
  `apply_review_decisions(matches, decisions)`
- `save_model_artifacts(result, out_dir) -> {name: path}`
- `link_sources(doj_persons, doj_counts, court_persons, court_counts, settings=None,
  review_decisions=None) -> LinkageOutcome` (all of the above for one county) and
  `review_queue_for(outcome)`
- `LinkageSettings`, `LinkResult`, `MATCHES` (the matches schema)

See docs/linkage.md for the method, the evidence columns and the choices made.
"""

from pipelines.linkage.artifacts import save_model_artifacts
from pipelines.linkage.dedupe import dedupe_counts, dedupe_persons, merged_count_rows
from pipelines.linkage.link import MATCHES, PASSES, LinkResult, find_duplicates, link_persons
from pipelines.linkage.pipeline import LinkageOutcome, link_sources, review_queue_for
from pipelines.linkage.review import (
    apply_review_decisions,
    read_review_decisions,
    review_queue,
    write_review_queue,
)
from pipelines.linkage.settings import LinkageSettings
from pipelines.linkage.unify import UNIFIED_PERSONS, unify_persons

__all__ = [
    "MATCHES",
    "PASSES",
    "UNIFIED_PERSONS",
    "LinkResult",
    "LinkageOutcome",
    "LinkageSettings",
    "apply_review_decisions",
    "dedupe_counts",
    "dedupe_persons",
    "find_duplicates",
    "link_persons",
    "link_sources",
    "merged_count_rows",
    "read_review_decisions",
    "review_queue",
    "review_queue_for",
    "save_model_artifacts",
    "unify_persons",
    "write_review_queue",
]
