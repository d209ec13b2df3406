"""uvicorn on a socket bound before it starts (``port = 0`` picks a free one, and the address is
known before the first request), in the foreground or in a thread beside the daemon."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from bot.errors import UserInputError


@dataclass(frozen=True, slots=True)
class Bind:
    host: str
    port: int  # 0: any free port
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None


class ConsoleServer:
    """The console's HTTP server: ``start()`` in a thread or ``serve()`` in the foreground."""

    def __init__(self, app: Any, bind: Bind) -> None:
        family = socket.AF_INET6 if ":" in bind.host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((bind.host.strip("[]"), bind.port))
        except OSError as exc:
            self._socket.close()
            raise UserInputError(
                f"console: cannot listen on {bind.host}:{bind.port} ({exc.strerror or exc}): pick another --port"
            ) from None
        self._socket.listen(64)
        self.port = int(self._socket.getsockname()[1])
        scheme = "https" if bind.tls_certfile is not None else "http"
        shown = f"[{bind.host.strip('[]')}]" if family == socket.AF_INET6 else bind.host
        self.url = f"{scheme}://{shown}:{self.port}/"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=str(bind.tls_certfile) if bind.tls_certfile else None,
            ssl_keyfile=str(bind.tls_keyfile) if bind.tls_keyfile else None,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def serve(self) -> None:
        """Serve until SIGINT/SIGTERM (uvicorn's own handlers)."""
        self._server.run(sockets=[self._socket])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._thread.name = "delever-console"
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._socket.close()
