"""Talon.One: the API clients and the pull streams."""
