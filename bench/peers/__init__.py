"""Minimal WeChat echo bots that `bench/webhook_bench.py` measures nanhu against."""
