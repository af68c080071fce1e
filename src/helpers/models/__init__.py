"""Statistics with no page in mind: customer summaries, BTYD fits, simulation."""
