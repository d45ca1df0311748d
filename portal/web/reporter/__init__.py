"""The reporter's pages: no JavaScript, nothing from another host, no cookie before it is needed."""

from .pages import make_blueprint

__all__ = ["make_blueprint"]
