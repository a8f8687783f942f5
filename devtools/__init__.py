"""Developer tools: the local WeChat API stand-in, a WeChat-side message simulator and the terminal chat."""
