"""Continuous load through a VIP for end-to-end tests: one request at a time, each
outcome recorded with the time it was sent, so that a test can count failures and
gaps around a fault or a change; and the same for UDP (`UdpLoad`)."""
import collections
import subprocess
import threading
import time


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


class Load:
    """A client sending one request at a time to the VIP (1 s timeout each), and
    recording when each was sent and what came of it (an answer from one of
    `members`, or why not)."""

    # What curl's exit statuses say (curl(1)).
    CURL_ERRORS = {7: "refused", 28: "timed out", 52: "empty reply", 56: "reset"}

    def __init__(self, dataplane, vip, members=("m1", "m2")):
        self.dataplane, self.vip, self.members = dataplane, vip, members
        self.results = []  # (time sent, answered, what came: the answer or why not)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stopping.is_set():
            sent = time.time()
            done = self.dataplane.curl_run(f"http://{self.vip}/", timeout=1)
            answer = done.stdout.strip()
            if done.returncode:
                answer = self.CURL_ERRORS.get(done.returncode, f"curl exit {done.returncode}")
            elif answer not in self.members:
                answer = f"answer {answer[:40]!r}"
            self.results.append((sent, answer in self.members, answer))
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        wait_until(lambda: any(ok for _, ok, _ in self.results), 30, "the load to be answered")
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()

    def first_answer_after(self, moment):
        return next((sent for sent, ok, _ in self.results if sent > moment and ok), None)

    def failed_after(self, moment):
        return sum(1 for sent, ok, _ in self.results if sent > moment and not ok)

    def longest_gap_after(self, moment):
        """The longest time between two answered requests around and after `moment`
        (from the last one answered before it): how long the VIP did not serve."""
        answered = [sent for sent, ok, _ in self.results if ok]
        around = [t for t in answered if t <= moment][-1:] + [t for t in answered if t > moment]
        return max((b - a for a, b in zip(around, around[1:])), default=0.0)

    def failures_after(self, moment):
        """`N failed of M requests (why: count, ...; when: +s after moment, UTC)` since
        `moment`, the times to be read beside krater's log."""
        after = [(sent, ok, what) for sent, ok, what in self.results if sent > moment]
        failed = [(sent, what) for sent, ok, what in after if not ok]
        why = collections.Counter(what for _, what in failed)
        text = f"{len(failed)} failed of {len(after)} requests"
        if not failed:
            return text
        when = ", ".join(
            f"+{sent - moment:.2f} s {time.strftime('%H:%M:%S', time.gmtime(sent))}"
            f".{int(sent % 1 * 1000):03d}Z" for sent, _ in failed[:5])
        return text + f" ({', '.join(f'{w}: {n}' for w, n in why.most_common())}; at {when})"


class UdpLoad:
    """A UDP client in the host namespace sending one datagram every 50 ms to
    VIP:PORT, each from a new socket (a new flow, balanced anew), for `seconds`;
    `result()` waits for it and gives (answered, unanswered within 1 s each)."""

    SCRIPT = """
import socket, sys, time
vip, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
answered = unanswered = 0
end = time.time() + seconds
while time.time() < end:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        s.sendto(b"load", (vip, port))
        try:
            s.recv(512)
            answered += 1
        except socket.timeout:
            unanswered += 1
    time.sleep(0.05)
print(answered, unanswered)
"""

    def __init__(self, dataplane, vip, port, seconds):
        self.process = dataplane.run.popen("python3", "-c", self.SCRIPT, vip, str(port),
                                           str(seconds), stdout=subprocess.PIPE, text=True)

    def result(self):
        out, _ = self.process.communicate(timeout=120)
        answered, unanswered = map(int, out.split())
        return answered, unanswered
