"""Public pages residents open from links in chat: check-in codes, identity cards, and the community
projects' disclosure pages. No personal data beyond what each page must show."""
