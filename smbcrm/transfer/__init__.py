"""File formats with no database: spreadsheets, CSV, vCard, header recognition -- rows in, rows out."""
