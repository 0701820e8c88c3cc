"""promosync: a SQL warehouse in two-way sync with Voucherify and Talon.One, through Dagster."""
