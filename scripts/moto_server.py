"""The local AWS emulator: moto's server, with DynamoDB requests handled one at a time.

moto checks a conditional write's condition and then writes, without a lock: two concurrent
`PutItem`s with `attribute_not_exists(pk)` can both succeed, which DynamoDB never allows. Delivery
claims rely on that guarantee (the claim test of notify-core saw two winners under load), so requests
to DynamoDB are serialised here, as DynamoDB serialises the writes of one item; every other service
stays concurrent (an SNS publish delivers to HTTP subscribers while it is being handled).

Usage: python scripts/moto_server.py -H 127.0.0.1 -p PORT
"""

import argparse
import os
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    dynamodb = threading.Lock()

    def serialised(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with dynamodb:
                # The whole response is produced inside the lock.
                return list(app(environ, start_response))
        return app(environ, start_response)

    run_simple(args.host, args.port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
