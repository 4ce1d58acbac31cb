"""Aggregate-only statistics: read through a connection that cannot write."""

# Everything the statistics read; the SELECT-only role of `pmo db create-stats-role` gets exactly these.
STATS_TABLES = (
    "bodies",
    "operations",
    "steps",
    "body_periods",
    "report_revisions",
    "systems",
    "system_versions",
    "inquiries",
    "adviser_requests",
    "adviser_visits",
)
