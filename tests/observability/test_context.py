from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from daemon.observability.context import bind_context, current_context, log_context


def test_fields_are_set_inside_the_block_and_restored_after() -> None:
    assert current_context() == {}
    with log_context(clinic_id="c-1", sync_type="inbound"):
        assert current_context() == {"clinic_id": "c-1", "sync_type": "inbound"}
        with log_context(sync_id="s-1", clinic_id="c-2", trigger="api"):
            assert current_context() == {
                "clinic_id": "c-2",
                "sync_id": "s-1",
                "sync_type": "inbound",
                "trigger": "api",
            }
        assert current_context() == {"clinic_id": "c-1", "sync_type": "inbound"}
    assert current_context() == {}


def test_fields_are_restored_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), log_context(request_id="r-1"):
        raise RuntimeError("boom")
    assert current_context() == {}


def test_values_are_stored_as_text_and_none_unsets() -> None:
    sync_id = uuid.uuid4()
    with log_context(sync_id=sync_id, provider="idexx-neo"):
        with log_context(provider=None):
            assert current_context() == {"sync_id": str(sync_id)}
        assert current_context()["provider"] == "idexx-neo"


@pytest.mark.parametrize("name", ["message", "levelname", "_private", "exc_info"])
def test_names_that_would_clobber_a_log_record_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=name), log_context(**{name: "x"}):
        pass


def test_a_thread_sees_the_context_only_when_bound() -> None:
    seen: dict[str, dict[str, object]] = {}

    def probe(label: str) -> None:
        seen[label] = current_context()

    with log_context(clinic_id="c-9", sync_id="s-9"):
        bound = threading.Thread(target=bind_context(probe), args=("bound",))
        plain = threading.Thread(target=probe, args=("plain",))
    for thread in (bound, plain):
        thread.start()
        thread.join(timeout=10)
    assert seen["bound"] == {"clinic_id": "c-9", "sync_id": "s-9"}
    assert seen["plain"] == {}


def test_a_bound_function_can_run_on_two_threads_at_once() -> None:
    barrier = threading.Barrier(2, timeout=10)
    seen: list[dict[str, object]] = []

    def probe() -> None:
        barrier.wait()  # both threads are inside their copy of the context at the same time
        with log_context(request_id=threading.current_thread().name):
            seen.append(current_context())

    with log_context(clinic_id="c-3"):
        target = bind_context(probe)
    threads = [threading.Thread(target=target, name=f"t{i}") for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(str(item["request_id"]) for item in seen) == ["t0", "t1"]
    assert all(item["clinic_id"] == "c-3" for item in seen)


def test_asyncio_tasks_inherit_and_do_not_leak() -> None:
    async def child(name: str) -> dict[str, object]:
        with log_context(request_id=name):
            await asyncio.sleep(0)  # let the other task run inside its own block
            return current_context()

    async def main() -> tuple[list[dict[str, object]], dict[str, object]]:
        with log_context(clinic_id="c-5"):
            results = await asyncio.gather(child("a"), child("b"))
            return list(results), current_context()

    results, after = asyncio.run(main())
    assert results == [
        {"clinic_id": "c-5", "request_id": "a"},
        {"clinic_id": "c-5", "request_id": "b"},
    ]
    assert after == {"clinic_id": "c-5"}
