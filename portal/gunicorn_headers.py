"""gunicorn's answers without a ``Server`` header.

gunicorn writes "Server: gunicorn" into every answer and has no setting to leave it out. It
tells a scanner what serves the portal and tells a browser nothing it needs. nginx in front
drops it already (proxy_hide_header's default), but a portal reached another way -- another
proxy, a load balancer, the port opened by mistake -- must name no software either.
``deploy/gunicorn.conf.py`` calls ``drop_server_header()`` in the master, before the workers
start.
"""

from gunicorn.http import wsgi


def drop_server_header() -> None:
    default_headers = wsgi.Response.default_headers
    if getattr(default_headers, "drops_server_header", False):
        return

    def without_server(self):
        return [line for line in default_headers(self) if not line.lower().startswith("server:")]

    without_server.drops_server_header = True
    wsgi.Response.default_headers = without_server
