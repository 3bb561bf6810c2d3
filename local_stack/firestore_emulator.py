"""The Firestore emulator (npm @firestore-emulator/server, a real gRPC server) as a child process."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

LAUNCHER = Path(__file__).with_name("firestore_emulator.js")
START_TIMEOUT_SECONDS = 20


class FirestoreEmulator:
    def __init__(self, port: int = 0) -> None:
        self._requested_port = port
        self._process: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def host(self) -> str:
        """The value for FIRESTORE_EMULATOR_HOST."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> FirestoreEmulator:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed; the Firestore emulator needs Node.js 20")
        self._process = subprocess.Popen(
            [node, str(LAUNCHER), str(self._requested_port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=LAUNCHER.parent.parent,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            _, err = self._process.communicate(timeout=START_TIMEOUT_SECONDS)
            raise RuntimeError(f"the Firestore emulator did not start: {err.strip()}")
        self.port = int(json.loads(line)["port"])
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream:
                stream.close()
