"""Operations: the admin API (/__admin) — clock, world, and later maintenance, faults, journal."""
