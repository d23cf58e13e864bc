#!/usr/bin/env python3
"""moto_server applying one DynamoDB request at a time (the same arguments as moto_server).

moto's threaded server runs concurrent requests on one item at once, and its UpdateItem is then not atomic:
50 concurrent `SET seq = seq + 1` leave seq at about 45 (lost updates). DynamoDB applies each single-item write
atomically, and the DynamoDB store's no-gap guarantee rests on it. This runs moto's own server with the dispatch
of every DynamoDB request (X-Amz-Target DynamoDB_*) under one lock: connections stay threaded, the DynamoDB
backend sees one request at a time, and other services (an SQS ReceiveMessage long-polling for 20 s) are not
held up by it nor hold it up. local/dynamodb.ts starts this instead of moto_server.
"""
import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_lock = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _dynamodb_one_at_a_time(self, environ, start_response):
    if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        return _dispatch(self, environ, start_response)
    with _lock:
        # The backend's work happens inside the call; the body is complete when it returns.
        return list(_dispatch(self, environ, start_response))


DomainDispatcherApplication.__call__ = _dynamodb_one_at_a_time

if __name__ == "__main__":
    server.main()
