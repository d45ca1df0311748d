"""The contracting authority's and the administrators' oversight pages, and the public
transparency page (``public``)."""

from . import public
from .pages import make_blueprint

__all__ = ["make_blueprint", "public"]
