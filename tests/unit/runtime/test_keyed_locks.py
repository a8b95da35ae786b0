import threading
import time

from stratus.runtime.keyed_locks import KeyedLocks


def test_one_holder_per_key_and_nothing_kept_after() -> None:
    locks = KeyedLocks()
    inside: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}
    guard = threading.Lock()

    def work(key: str) -> None:
        with locks.hold(key):
            with guard:
                inside[key] += 1
                most[key] = max(most[key], inside[key])
            time.sleep(0.002)
            with guard:
                inside[key] -= 1

    threads = [threading.Thread(target=work, args=("ab"[i % 2],)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == {"a": 1, "b": 1}
    assert len(locks) == 0


def test_other_keys_are_not_held_up() -> None:
    locks = KeyedLocks()
    done = threading.Event()

    def other() -> None:
        with locks.hold("b"):
            done.set()

    with locks.hold("a"):
        thread = threading.Thread(target=other)
        thread.start()
        assert done.wait(5)
        thread.join()
    assert len(locks) == 0


def test_a_raising_holder_lets_go() -> None:
    locks = KeyedLocks()
    try:
        with locks.hold("a"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert len(locks) == 0
    with locks.hold("a"):
        assert len(locks) == 1
