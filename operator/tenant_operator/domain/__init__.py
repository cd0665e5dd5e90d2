"""Pure domain logic: naming, plans, conditions, audit hashing, errors. No I/O, no kopf."""
