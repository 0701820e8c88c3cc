"""promosync's jobs, built from the assets and checks a build chose: each job selects objects,
never a group name (a user's own assets may share one) nor all checks (a user's own among them).

None imposes an executor: the standalone project sets the in-process one for all its jobs, a
user's project keeps its own, and an embedded DuckDB file is protected by the warehouse's
concurrency pool instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import dagster as dg
from promosync.connectors.stream import RECONCILE, SWEEP, Stream
from promosync.pipelines.wiring import STANDALONE, AssetJob, Wiring

FULL_SWEEP = {"config": {"full_sweep": True}}
RECONCILED = {"config": {"reconcile": True}}


@dataclass
class Jobs:
    """The jobs of one build; a platform or stream not chosen has none."""

    pull: dict[str, AssetJob] = field(default_factory=dict)  # by platform
    push: dict[str, AssetJob] = field(default_factory=dict)  # by platform
    reconcile: AssetJob | None = None
    full_sweep: AssetJob | None = None
    checks: AssetJob | None = None

    def all(self) -> list[AssetJob]:
        extra = (self.reconcile, self.full_sweep, self.checks)
        return [*self.pull.values(), *self.push.values(), *(job for job in extra if job)]


def pull_job(
    platform: str, assets: list[dg.AssetsDefinition], wiring: Wiring = STANDALONE
) -> AssetJob:
    """The job pulling `assets`, `platform`'s streams, without their checks."""
    label = {"voucherify": "Voucherify", "talon_one": "Talon.One"}[platform]
    return dg.define_asset_job(
        wiring.name(f"{platform}_pull"),
        selection=dg.AssetSelection.assets(*assets).without_checks(),
        description=f"Pull every {label} stream into the warehouse (incremental by default).",
    )


def pull_jobs(
    pulled: dict[str, list[dg.AssetsDefinition]],
    streams: Iterable[Stream],
    checks: list[dg.AssetChecksDefinition],
    wiring: Wiring = STANDALONE,
) -> Jobs:
    """Pull jobs of the platforms in `pulled` (platform: its pull assets); from the declarations
    of `streams` (those pulled), Voucherify's reconciliation (its streams with the `reconcile`
    option) and weekly full sweep (those with `sweep`, with the streams they depend on); and the
    job of every check in `checks`."""
    jobs = Jobs(pull={p: pull_job(p, assets, wiring) for p, assets in pulled.items() if assets})
    voucherify = [stream for stream in streams if stream.platform == "voucherify"]
    reconciled = [stream.name for stream in voucherify if RECONCILE in stream.options]
    if reconciled:
        jobs.reconcile = dg.define_asset_job(
            wiring.name("voucherify_reconcile"),
            selection=dg.AssetSelection.assets(*map(wiring.key, reconciled)).without_checks(),
            config={
                "ops": {wiring.op(name): {"config": {"reconcile": True}} for name in reconciled}
            },
            description="Read every Voucherify customer id and mark the ones gone with"
            " _deleted_at.",
        )
    swept = [stream for stream in voucherify if SWEEP in stream.options]
    if swept:
        needed = {name for stream in swept for name in (stream.name, *stream.depends_on)}
        jobs.full_sweep = dg.define_asset_job(
            wiring.name("voucherify_full_sweep"),
            selection=dg.AssetSelection.assets(*map(wiring.key, sorted(needed))).without_checks(),
            config={"ops": {wiring.op(stream.name): FULL_SWEEP for stream in swept}},
            description="Pull customers, then visit every customer's activity and read its"
            " segments, at once (by hand: the hourly pull's rolling sweep re-verifies every"
            " customer within PROMOSYNC_VOUCHERIFY_SWEEP_DAYS without a burst).",
        )
    if checks:
        jobs.checks = checks_job(checks, wiring)
    return jobs


def checks_job(checks: Iterable[dg.AssetChecksDefinition], wiring: Wiring = STANDALONE) -> AssetJob:
    """The job evaluating `checks` without materializing anything."""
    return dg.define_asset_job(
        wiring.name("promosync_checks"),
        selection=dg.AssetSelection.checks(*checks),
        description="Evaluate every asset check (keys, freshness, counts, cursors, pending"
        " pushes) without materializing anything.",
    )
