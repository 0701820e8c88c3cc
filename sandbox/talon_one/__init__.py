"""A Talon.One simulator (Integration and Management APIs) faithful to the official specs."""
