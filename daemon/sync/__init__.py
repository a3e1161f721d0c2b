"""The sync engine: one sync of one type for one clinic, from queued row to final row.

- ``runner.py``: :class:`SyncRunner`, the entry point (waits its turn, runs, records).
- ``inbound.py``, ``cases.py``, ``reconciliation.py``: the three services (contract §5).
- ``case_rules.py``, ``slots.py``, ``neutral.py``: what rows become (pure functions).
- ``report.py``, ``progress.py``, ``heartbeat.py``: stats, errors, status, liveness.
- ``ranges.py``: clinic-local dates; ``providers.py``: a clinic's PIMS provider.
- ``requests.py``: what a caller asks for (:class:`SyncRequest`).

The services see a PIMS only through ``providers.base.PimsProvider``.
"""
