"""The `make stress` rooms scenarios, short: correctness only (every update reaches every participant, every
participant catches up after a worker is killed, no answer is lost). The latencies are recorded in
artifacts/stress-short/<scenario>.json (one file per test), never asserted (they depend on the machine);
docs/reliability.md quotes the full `make stress` figures."""

from __future__ import annotations

from stress.rooms import format_failover, format_fanout, run_failover, run_fanout

from ..stress.test_load_short import record


def test_100_participants_get_all_10_updates_on_one_worker():
    result = run_fanout(participants=100, updates=10, interval=0.3)
    record("rooms", result)
    print(format_fanout(result))
    assert result["refused_streams"] == 0 and result["join_errors"] == 0 and result["put_errors"] == 0
    assert result["missing"] == 0 and result["delivered"] == 1000


def test_a_worker_killed_mid_session_loses_no_participant_and_no_answer(nginx, redis_server):
    # 8 s: answers from 1 to 6 s, the kill at 3 s (every stream is open by then: the session's clock starts when
    # they all are), the restart 1 s later; the full `make stress` scenario runs 30 s with 300 participants
    result = run_failover(participants=60, duration=8.0, kill_at=3.0, down_for=1.0)
    record("rooms-failover", result)
    print(format_failover(result))
    assert result["streams_cut"] > 0  # the kill really cut streams
    assert result["refused_streams"] == 0, result["first_refusals"]
    assert result["all_caught_up"] and result["on_final_state"] == 60
    assert result["answers_lost"] == 0 and result["answers_failed"] == 0, result["first_answer_failures"]
    assert result["answers_accepted"] == result["answers_tallied"] == 60 * 5
    assert result["teacher_failed"] == 0

