# gunicorn settings for the portal: gunicorn -c deploy/gunicorn.conf.py portal.wsgi:app
#
# No access log at all: a request line would tie a reporter's address and
# time to a page. Error log lines carry no client address.
import multiprocessing
import os

from portal.gunicorn_headers import drop_server_header

bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PORTAL_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
# The app reads PORTAL_THREADS too: all but one thread of a worker may wait for an Argon2id or
# cleaning slot (portal/services/work_slots.py), the last one is kept for pages.
threads = int(os.environ.get("PORTAL_THREADS", 10))
# Slow mobile uploads need time: nginx streams them through as they come (it writes no
# request body to disk), so a thread reads an upload for as long as the phone sends it.
timeout = 120
graceful_timeout = 30
keepalive = 5
accesslog = None
errorlog = "-"
# Error lines scrubbed of IPv4/IPv6 addresses, and no access lines even if one is configured.
logger_class = "portal.gunicorn_logging.AddressFreeLogger"
# No "Server: gunicorn" in any answer: the portal names no software.
drop_server_header()
loglevel = os.environ.get("PORTAL_LOG_LEVEL", "info").lower()
proxy_protocol = False
forwarded_allow_ips = "127.0.0.1"
# Request headers are bounded: nothing in a reporter page needs big ones.
limit_request_line = 8190
limit_request_fields = 100
