"""Helpers shared by the test tiers (in-memory fakes of the ports, builders of objects)."""
