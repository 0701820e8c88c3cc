"""Local simulators of the Voucherify and Talon.One APIs, faithful to their official specs."""
