"""Voucherify pull assets: group `voucherify`, built from the stream declarations.

The names other modules import from here live in `asset_policy` (kinds, retry policy, fatal
errors, metadata) and `stream_options` (the backfill window) and are re-exported.
"""

from promosync.pipelines.asset_policy import KINDS, RETRY, fatal_errors, report_metadata
from promosync.pipelines.stream_assets import PULL_ASSETS
from promosync.pipelines.stream_options import backfill_window

GROUP = "voucherify"
VOUCHERIFY_ASSETS = [asset for asset in PULL_ASSETS if asset.group_names_by_key[asset.key] == GROUP]

__all__ = [
    "GROUP",
    "KINDS",
    "RETRY",
    "VOUCHERIFY_ASSETS",
    "backfill_window",
    "fatal_errors",
    "report_metadata",
]
