"""placeholder"""

EXTRA_KEYS = {"ClaimSubmitted": "planId", "ClaimPaid": "planId"}
