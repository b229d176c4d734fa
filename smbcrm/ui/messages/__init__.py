"""The Messages page: templates, campaigns and their sending."""
