"""Operations views over every concern: readiness report, admin dashboard, ops API, metrics."""
