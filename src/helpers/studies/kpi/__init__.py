"""Monthly KPI tracking against targets: members, 复购率, 客单价, frequency, retention, churn,
satisfaction; period-over-period and year-over-year changes decomposed into their drivers."""
