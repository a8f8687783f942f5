"""Background jobs, run by `nanhu worker` (RQ) or, without Redis, inside the web process: the queue
(`queue`), the relay that queues what a commit wrote (`outbox`), delivering notices within WeChat's
quotas (`delivery`), the sweeper for what was stranded (`sweeper`) and late replies (`sending`).
Jobs use the low layers only: the WeChat API client, the runtime and storage."""
