"""Process helpers shared by every worker pool (distance solves, evaluations)."""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent_pid: int) -> None:
    """Worker-process initializer: exit when the parent dies (for example SIGKILLed), instead of
    lingering as an orphan that still holds a GPU or a CPU."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="nasbot-parent-watch", daemon=True).start()
