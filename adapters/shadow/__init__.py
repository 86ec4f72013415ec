"""Shadow runs: a candidate policy beside the active one on live traffic, its would-be decisions in a read model."""
