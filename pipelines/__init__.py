"""Dagster wiring of promosync: resources, assets, jobs, schedules and the CLI."""
