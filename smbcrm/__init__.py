"""smbcrm: a desktop CRM for small shops, offline in one local SQLite file."""

__version__ = "0.1.0"
APP_ID = "co.smbcrm.SmbCrm"
APP_NAME = "smbcrm"
