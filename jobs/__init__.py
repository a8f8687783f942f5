"""Background jobs run by `nanhu worker` (RQ) or, without Redis, inside the web process."""
