"""`fengkong reconcile`: prove that nothing was lost and nothing applied twice.

compare.py holds the rules (pure, unit-tested with synthetic gaps);
gather.py reads files, topics, the store and the read models for them.
"""
