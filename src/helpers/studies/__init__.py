"""One package per study: analysis, figures, narrative, tables and pages of one page family."""
