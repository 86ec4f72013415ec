"""The event store and the projections' tables, one subpackage per database (sqlite/, postgres/)."""
