"""Reports for people: the self-contained HTML triage report."""
