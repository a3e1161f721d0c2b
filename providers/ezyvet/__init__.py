"""ezyVet: a cloud PIMS with a public REST API (OAuth 2.0 client credentials, paging, JSON
filters, rate limits).

The provider lives in :mod:`providers.ezyvet.provider`; it is imported by name through
:mod:`providers.registry`, so importing this package stays cheap (the simulator lives here too).
"""
