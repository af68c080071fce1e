"""Private-domain (私域) community operations: group activity against the benchmark, WeChat reach by
segment, referral trees with the K-factor and the value of referred customers, candidate KOLs."""
