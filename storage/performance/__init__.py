"""What makes the database and the shared store fast enough under a burst, in one place: the SQLite writers queue
(`writers`), statements on SQLite's own cursor (`prepared`), group commit (`batching`) and the shared store's
per-boot files (`boot_stores`). The figures behind each are in bench/RESULTS.md."""
