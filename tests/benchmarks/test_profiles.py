"""How the benchmark reads py-spy's native stacks (benchmarks/profiles.py); no profiler is run."""

from __future__ import annotations

from benchmarks.profiles import reduce

# py-spy's raw format: frames from the root, `;`-separated, then the sample count.
_STACKS = "\n".join(
    [
        "main (bench.py:10);handle (services/x.py:5);JSONDecoder_decode (msgspec/_core.so);malloc (libc.so.6) 6",
        "main (bench.py:10);handle (services/x.py:6);join (services/y.py:3) 3",
        "main (bench.py:10);handle (services/x.py:7);_PyObject_GC_Alloc (python.so);gc_collect_main (python.so) 1",
        "main (bench.py:10);_run_once (asyncio/base_events.py:1);epoll_wait (libc.so.6) 50",
        "loader (bench.py:2);yaml_load (yaml/x.py:1) 40",
    ]
)


def test_c_time_is_charged_to_the_python_caller_and_the_collector_shown_apart() -> None:
    profile = reduce(_STACKS, focus="handle")
    assert profile.samples == 10  # outside the focus and waiting in the event loop are not counted
    self_share = dict(profile.self_share)
    assert self_share["handle (services/x.py)"] == 0.6  # msgspec's and malloc's time, under their caller
    assert self_share["join (services/y.py)"] == 0.3
    assert self_share["garbage collection (CPython's gc_collect_main)"] == 0.1
    assert not any("libc" in name or "msgspec" in name for name, _ in profile.inclusive_share)
