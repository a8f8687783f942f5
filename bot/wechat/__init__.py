"""WeChat's protocol: signatures and AES (signing), inbound pushes (messages), passive replies
(replies), the API client with its access token (client) and the shared rate limit (ratelimit).
Nothing here knows about residents, handlers or the database beyond the shared store."""
from pathlib import Path

DEFAULT_MENU = Path(__file__).with_name("menu.json")   # the custom menu `nanhu menu` sets up
