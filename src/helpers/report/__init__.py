"""Reader-facing pieces every page shares: language, formatting, tables, figures, pages."""
