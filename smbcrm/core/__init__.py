"""Basics every layer may use: paths, translations, errors, progress, money and dates."""
