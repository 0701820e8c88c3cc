"""The pull assets, one per declared stream: key, group, description, deps and config from it.

No `from __future__ import annotations` here: Dagster reads the annotations of asset functions.
"""

from collections.abc import Iterable
from typing import Any

import dagster as dg
from promosync.connectors import catalog
from promosync.connectors.stream import Stream, sync_function
from promosync.pipelines.asset_policy import KINDS, RETRY
from promosync.pipelines.pull_step import pull_step
from promosync.pipelines.stream_options import arguments, config_class
from promosync.pipelines.wiring import STANDALONE, Wiring


def pull_asset(stream: Stream, wiring: Wiring = STANDALONE) -> dg.AssetsDefinition:
    """The asset that runs `stream`'s sync function with the platform's client and the warehouse,
    in a pull step (start-of-run checks, progress, failures as one line)."""
    sync_function(stream)  # a stream without one fails here, when the definitions load
    api_key = wiring.resource_keys.api(stream.platform)

    def run(context: dg.AssetExecutionContext, chosen: dict[str, Any]) -> dg.MaterializeResult:
        api = getattr(context.resources, api_key)
        warehouse = getattr(context.resources, wiring.warehouse)
        sync = sync_function(stream)  # the one registered now: a test may put a fake in
        full_refresh = chosen.get("full_refresh", False)  # its checks then refuse no cursor
        with pull_step(stream.name, warehouse, full_refresh=full_refresh) as step:
            first_load = bool(
                full_refresh or chosen.get("window") or step.store.read_cursor(stream.name) is None
            )
            client = step.budget(step.track(api.client()), api, context.run.run_id, first_load)
            result = step.result(sync(client, step.store, **chosen))
        context.log.info(f"{stream.name}: {result.metadata}")
        if "warning" in result.metadata:
            context.log.warning(f"{stream.name}: {result.metadata['warning']}")
        return result

    if stream.options:
        options = config_class(stream)

        def pull(context: dg.AssetExecutionContext, config: options) -> dg.MaterializeResult:
            return run(context, arguments(stream, config))  # a bad window fails before any work

    else:

        def pull(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
            return run(context, {})

    return dg.asset(
        key=wiring.key(stream.name),
        group_name=wiring.group(stream.platform),
        description=stream.description,
        kinds=KINDS,
        retry_policy=RETRY,
        deps=[wiring.key(name) for name in stream.depends_on],
        required_resource_keys={api_key, wiring.warehouse},
        pool=wiring.pool,
    )(pull)


def pull_assets(
    streams: Iterable[Stream] | None = None, wiring: Wiring = STANDALONE
) -> list[dg.AssetsDefinition]:
    """The pull assets of `streams` (every declared stream by default)."""
    chosen = catalog.STREAMS if streams is None else streams
    return [pull_asset(stream, wiring) for stream in chosen]


PULL_ASSETS = pull_assets()
