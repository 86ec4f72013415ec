"""Personal data: sealed under one key per customer, revealed to those who may read it, forgotten on request."""
