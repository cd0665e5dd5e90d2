"""Orchestration, free of kopf: one module per trigger, over the ports.

- :mod:`.tenant` a Tenant was created, changed, resumed or nudged;
- :mod:`.subprocessor` a SubProcessor register entry changed;
- :mod:`.deletion` a Tenant is being deleted (its finalizer);
- :mod:`.secret` a connector Secret changed;
- :mod:`.drift` the one cluster-wide drift scanner.

Around them: :mod:`.ports` (what the adapters must offer, as Protocols),
:mod:`.context` (what a trigger is handed), :mod:`.planning` (manifest to plan and
records), :mod:`.reconcile` (the steps of one reconcile), :mod:`.status` (the typed
status, dumped once), :mod:`.resume`, :mod:`.inventory` and :mod:`.metrics`.
"""
