"""`zoo serve` stops on a SIGTERM that the kernel hands to a thread other than the main one."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from zoo.commands.serving import wait_for


@pytest.mark.timeout(30)
def test_a_signal_caught_by_another_thread_still_ends_the_wait():
    # The C-level handler runs in the thread that receives the signal; the Python handler (which
    # sets `stop`) runs only when the main thread next runs Python code. A bare `stop.wait()`
    # never returns here (measured: still blocked after 8 s; a 10 s wait ends with `stop` unset);
    # `wait_for` wakes every `poll`.
    stop = threading.Event()
    previous = signal.signal(signal.SIGUSR1, lambda *_: stop.set())

    def signal_this_thread():
        time.sleep(0.3)
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)

    helper = threading.Thread(target=signal_this_thread)
    try:
        started = time.monotonic()
        helper.start()
        wait_for(stop, poll=0.2)
        assert stop.is_set()
        assert time.monotonic() - started < 10
    finally:
        helper.join()
        signal.signal(signal.SIGUSR1, previous)
