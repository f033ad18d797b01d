"""Builds the Dockerfile's image with podman and checks it as a user would.

Run by `cargo xtask test` (its container stage) with the binary the test
stage built: `python3 tests/container/check_image.py target/debug/switchyard`.
No registry is reachable here, so the Debian base is made locally with
debootstrap (once; kept in podman's storage) and the image is built from
the Dockerfile's `prebuilt` target, which shares every runtime step with
the default target and takes the binary from the build context.

Checks: the container runs as a non-root user with /data as its volume,
its health check passes, /health answers, the one-time sign-in link from
its log signs a browser in, /v1 refuses requests without a key and serves
them with one, and a graceful stop exits 0.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BASE = "localhost/switchyard-base:bookworm"
IMAGE = "localhost/switchyard:check"
# This machine's container runtime needs runc and bounded limits (see
# ../../README.md, "Run on a server").
PODMAN = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


def run(*args, capture=False, check=True):
    print("+", " ".join(args), flush=True)
    return subprocess.run(args, check=check, text=True, capture_output=capture)


def ensure_base():
    if run(*PODMAN, "image", "exists", BASE, check=False).returncode == 0:
        return
    root = tempfile.mkdtemp(prefix="switchyard-rootfs-")
    try:
        run("debootstrap", "--variant=minbase", "bookworm", root, "http://deb.debian.org/debian")
        with open(os.path.join(root, "etc/apt/sources.list"), "w") as sources:
            sources.write(
                "deb http://deb.debian.org/debian bookworm main\n"
                "deb http://deb.debian.org/debian bookworm-updates main\n"
                "deb http://deb.debian.org/debian-security bookworm-security main\n"
            )
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(os.path.join(root, leftover), ignore_errors=True)
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", root, "-cf", "-", "."], stdout=subprocess.PIPE)
        subprocess.run(
            [*PODMAN, "import", "--change", 'CMD ["/bin/bash"]', "-", BASE],
            stdin=tar.stdout,
            check=True,
        )
        tar.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(url, headers=None, data=None):
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    binary = sys.argv[1]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ensure_base()
    run(
        *PODMAN, "build", "--pull=never", "--format", "docker", *LIMITS,
        "--build-arg", f"RUNTIME_IMAGE={BASE}",
        "--build-arg", f"BINARY={os.path.relpath(binary, root)}",
        "--target", "prebuilt", "-t", IMAGE, root,
    )
    port = free_port()
    name = f"switchyard-check-{port}"
    run(*PODMAN, "run", "-d", *LIMITS, "--name", name, "-p", f"127.0.0.1:{port}:20128", IMAGE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                status, _, _ = http(f"{base}/health/live")
                if status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("the container never answered /health/live")
            time.sleep(0.5)
        uid = run(*PODMAN, "exec", name, "id", "-u", capture=True).stdout.strip()
        assert uid != "0", "the container runs as root"
        inspect = json.loads(run(*PODMAN, "image", "inspect", IMAGE, capture=True).stdout)[0]
        config = inspect["Config"]
        assert "/data" in config.get("Volumes", {}), config
        assert run(*PODMAN, "healthcheck", "run", name, check=False).returncode == 0, "health check failed"
        status, _, body = http(f"{base}/health")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok", body
        logs = run(*PODMAN, "logs", name, capture=True)
        link = next(
            word for word in (logs.stdout + logs.stderr).split() if "/dashboard/signin?token=" in word
        )
        link = link.replace("127.0.0.1:20128", f"127.0.0.1:{port}")
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(link, timeout=10)
            raise SystemExit("the sign-in link did not redirect")
        except urllib.error.HTTPError as redirect:
            assert redirect.code == 303, redirect.code
            assert "HttpOnly" in redirect.headers["Set-Cookie"], redirect.headers
        status, _, _ = http(f"{base}/v1/models")
        assert status == 401, f"/v1 without a key answered {status}"
        key = json.loads(run(*PODMAN, "exec", name, "switchyard", "--json", "key", "create", capture=True).stdout)["key"]
        status, _, body = http(f"{base}/v1/models", headers={"Authorization": f"Bearer {key}"})
        assert status == 200, body
        stopped = run(*PODMAN, "stop", "-t", "20", name, capture=True)
        code = run(*PODMAN, "inspect", name, "--format", "{{.State.ExitCode}}", capture=True).stdout.strip()
        assert code == "0", f"the gateway exited {code} on stop: {stopped}"
        print("container check passed")
    finally:
        run(*PODMAN, "rm", "-f", name, check=False)


if __name__ == "__main__":
    main()
