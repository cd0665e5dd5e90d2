"""Fast tests of orchestration (reconcile, flows, erasure, drift) over in-memory fakes."""
