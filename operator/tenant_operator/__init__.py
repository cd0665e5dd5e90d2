"""IntegraCI tenant operator: turns a ``Tenant`` manifest into an isolated tenant."""

__version__ = "0.1.0"
