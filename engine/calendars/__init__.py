"""Holiday calendars shipped with the engine: only the seed (engine.business_days.SEED_VERSION)."""
