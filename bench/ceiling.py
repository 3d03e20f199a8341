"""What one CPU can serve at all with the senders' server and framework, doing no work: the
ceiling bench/sender.py's page figure is up against.

    .venv/bin/python bench/ceiling.py [--seconds 15] [--runs 3]

Runs, from the app image, gunicorn with the senders' worker model (gthread, 1 process x 16
threads, keep-alive) on CPU 1 serving (a) a bare WSGI function and (b) a bare Flask route, each
returning a 4 KB page (about the size of the sender's page); 32 closed-loop locust users on
CPU 0 call the container directly (no balancer in between). Prints requests/s and the server's
CPU time per request, medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mafa_cli.engine.local import DockerEngine

APPS = {
    "bare_wsgi.py": """
def app(environ, start_response):
    body = b"x" * 4096
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", "4096")])
    return [body]
""",
    "bare_flask.py": """
from flask import Flask
app = Flask(__name__)

@app.get("/")
def home():
    return "x" * 4096
""",
}
LOCUSTFILE = """
from locust import FastHttpUser, task

class Page(FastHttpUser):
    @task
    def page(self):
        self.client.get("/")
"""
NAME = "mafa-bench-ceiling"


def measure(workdir: Path, module: str, seconds: int) -> tuple[float, float]:
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", NAME, "--cpuset-cpus", "1",
         "-v", f"{workdir}:/bench:ro", "--entrypoint", "/opt/venv/bin/gunicorn", "mafa/app",
         "-k", "gthread", "-w", "1", "--threads", "16", "--keep-alive", "15",
         "-b", "0.0.0.0:8000", "--chdir", "/bench", f"{module}:app"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        docker = DockerEngine.connect()
        ip = subprocess.run(
            ["docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", NAME],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        time.sleep(2)
        before = next(docker.stats_stream(NAME))["cpu_stats"]["cpu_usage"]["total_usage"]
        subprocess.run(
            ["taskset", "-c", "0", sys.executable, "-m", "locust", "-f",
             str(workdir / "locustfile.py"), "--headless", "-u", "32", "-r", "32",
             "-t", f"{seconds}s", "-H", f"http://{ip}:8000", "--only-summary", "--csv",
             str(workdir / module)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        used = next(docker.stats_stream(NAME))["cpu_stats"]["cpu_usage"]["total_usage"] - before
    finally:
        subprocess.run(["docker", "rm", "-f", NAME], check=False, capture_output=True)
    rows = (workdir / f"{module}_stats.csv").read_text().splitlines()
    header = rows[0].split(",")
    total = dict(zip(header, rows[-1].split(","), strict=False))
    requests = int(total["Request Count"])
    return float(total["Requests/s"]), used / 1e6 / max(1, requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mafa-bench-ceiling-"))
    for name, source in APPS.items():
        (workdir / name).write_text(source)
    (workdir / "locustfile.py").write_text(LOCUSTFILE)
    workdir.chmod(0o755)
    print(
        "gunicorn gthread 1x16 on CPU 1; 32 closed-loop users on CPU 0;"
        f" {args.seconds}s x {args.runs}; medians"
    )
    for name in APPS:
        module = name.removesuffix(".py")
        runs = [measure(workdir, module, args.seconds) for _ in range(args.runs)]
        rps = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{module:12s} {rps:7.0f} req/s  server CPU {cpu:.2f} ms/request", flush=True)


if __name__ == "__main__":
    main()
