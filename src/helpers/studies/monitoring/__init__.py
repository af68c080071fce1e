"""Loyalty-programme monitoring from the points ledger: points flows, breakage, liability, tiers,
redemption, members who use points against matched members who do not, and the lab's assumptions
calibrated from what the ledger shows."""
