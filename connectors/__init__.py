"""Plain-Python connectors to Voucherify, Talon.One and the warehouse (no Dagster import)."""
