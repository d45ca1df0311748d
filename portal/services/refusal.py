"""The one shape of a service's "no": a stable ``reason`` code the web layer turns
into a message in the user's language, and any details the message needs."""


class Refusal(ValueError):
    def __init__(self, reason: str, **details):
        super().__init__(reason)
        self.reason = reason
        self.details = details
