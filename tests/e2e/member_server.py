"""A backend member for end-to-end tests: answers every GET with its own name (and 200
on /healthcheck), so a test can see which member a request reached.
usage: member_server.py NAME ADDRESS PORT"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME, ADDRESS, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = (NAME + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer((ADDRESS, PORT), Handler).serve_forever()
