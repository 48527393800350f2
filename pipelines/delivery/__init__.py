"""Delivery to the court and DOJ: court bulk-upload files, the judge's bulk order summary, the
clerk's checklist, the DOJ disposition update, the manifest, and atomic publishing.

Public API (see docs/delivery.md):

- `assemble_delivery(...)` / `build_delivery(...)`: determinations -> DELIVERY_ROW rows
- `write_delivery_files(rows, layout, staging_dir)`, `load_layout(name)`
- `publish(staging_dir, target)` -> `PublishedDelivery`
- `deliver(build, county=..., ledger=..., run_id=...)`: plan, stage, publish, record; exactly once
"""

from pipelines.delivery.deliver import DeliveryResult, deliver, recover_pending, stage_delivery
from pipelines.delivery.files import doj_update_frame, write_delivery_files, write_doj_update
from pipelines.delivery.layouts import DeliveryLayout, load_layout
from pipelines.delivery.publish import OutboxTarget, PublishedDelivery, SftpTarget, make_target, publish
from pipelines.delivery.rows import (
    ACTIONABLE_RELIEFS,
    DeliveryBuild,
    assemble_delivery,
    build_delivery,
    county_code,
)

__all__ = [
    "ACTIONABLE_RELIEFS", "DeliveryBuild", "DeliveryLayout", "DeliveryResult", "OutboxTarget",
    "PublishedDelivery", "SftpTarget", "assemble_delivery", "build_delivery", "county_code", "deliver",
    "doj_update_frame", "load_layout", "make_target", "publish", "recover_pending", "stage_delivery",
    "write_delivery_files", "write_doj_update",
]
