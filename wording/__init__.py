"""What each audience reads, one catalogue per audience: a service refuses with a code and its
parameters (`storage.rejections`), and the words are chosen here, never parsed back.

- `operators`: the CLI and the logs (the sub-district's IT people), in English;
- `staff`: the admin web, in Chinese.
"""
