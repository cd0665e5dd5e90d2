"""Fast tests of the controller (triggers, reconcile, drift) over in-memory fakes of the ports."""
