"""The Firestore emulator (npm @firestore-emulator/server, a real gRPC server) as a child process.

The launcher also records every RPC that reads or writes documents, whichever process sent it,
and answers those records over HTTP on 127.0.0.1 (`rpc_records`); `local_stack.firestore_meter`
turns them into what Firestore bills."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

LAUNCHER = Path(__file__).with_name("firestore_emulator.js")
START_TIMEOUT_SECONDS = 20
METER_TIMEOUT_SECONDS = 10


class FirestoreEmulator:
    def __init__(self, port: int = 0) -> None:
        self._requested_port = port
        self._process: subprocess.Popen[str] | None = None
        self.port = 0
        self.meter_port = 0

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
        announced = json.loads(line)
        self.port, self.meter_port = int(announced["port"]), int(announced["meter_port"])
        return self

    def rpc_position(self) -> int:
        """The number of the next RPC record: every RPC the server has received so far is below it."""
        return int(self._get("/rpcs/next")["next"])

    def rpc_records(self, since: int) -> tuple[list[dict[str, Any]], int]:
        """The records of the RPCs received from record `since` on, and the next record's number."""
        answer = self._get(f"/rpcs?since={since}")
        return list(answer["records"]), int(answer["next"])

    def _get(self, path: str) -> dict[str, Any]:
        if not self.meter_port:
            raise RuntimeError("start the Firestore emulator first")
        url = f"http://127.0.0.1:{self.meter_port}{path}"
        with urllib.request.urlopen(url, timeout=METER_TIMEOUT_SECONDS) as response:
            answer: dict[str, Any] = json.load(response)
        return answer

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
