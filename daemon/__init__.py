"""pims-sync: keeps veterinary clinics' PIMS in sync with our database."""

__version__ = "0.1.0"
