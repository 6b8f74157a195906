"""A backend member for end-to-end tests and the benchmark: answers every request with
its own name (so a test can see which member a request reached) and 200, /healthcheck
included. Keeps HTTP/1.1 connections open; closes after an HTTP/1.0 request or
`Connection: close`. One asyncio loop, no per-request threads, so that the member is not
what limits a benchmark.  usage: member_server.py NAME ADDRESS PORT"""
import asyncio
import sys

NAME, ADDRESS, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
BODY = (NAME + "\n").encode()
HEAD = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(BODY)}\r\n"
KEEP_ALIVE = (HEAD + "\r\n").encode() + BODY
CLOSE = (HEAD + "Connection: close\r\n\r\n").encode() + BODY


class Member(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""

    def data_received(self, data):
        self.pending += data
        while b"\r\n\r\n" in self.pending:
            head, self.pending = self.pending.split(b"\r\n\r\n", 1)
            request_line, _, headers = head.partition(b"\r\n")
            closing = (request_line.endswith(b"HTTP/1.0")
                       or b"connection: close" in headers.lower())
            if closing:
                self.transport.write(CLOSE)
                self.transport.close()
                return
            self.transport.write(KEEP_ALIVE)


async def main():
    server = await asyncio.get_running_loop().create_server(Member, ADDRESS, PORT)
    await server.serve_forever()


asyncio.run(main())
