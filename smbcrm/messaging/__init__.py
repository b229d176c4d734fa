"""Mail mechanics with no database: rendering, MIME, SMTP transport, credentials, mail files."""
