"""IDEXX Neo: a cloud PIMS without a public API, reached through its own web pages' endpoints.

The provider lives in :mod:`providers.idexx_neo.provider`; it is imported by name through
:mod:`providers.registry`, so importing this package stays cheap (the simulator lives here too).
"""
