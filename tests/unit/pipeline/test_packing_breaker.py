from __future__ import annotations

from service.pipeline.translation.packing_breaker import PackingBreaker


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_losses_in_a_row_pause_packing_for_a_while_then_one_call_decides() -> None:
    clock = Clock()
    breaker = PackingBreaker(pause_after=3, pause_seconds=60, clock=clock)
    for _ in range(2):
        breaker.record("t", "de", markers_kept=False)
    assert breaker.allows("t", "de")
    breaker.record("t", "de", markers_kept=False)
    assert not breaker.allows("t", "de") and breaker.paused() == 1
    assert breaker.allows("t", "fr") and breaker.allows("u", "de")
    clock.now = 60.0
    assert breaker.allows("t", "de")  # the pause is over: try again
    breaker.record("t", "de", markers_kept=False)  # still broken: paused again at once
    assert not breaker.allows("t", "de")
    clock.now = 120.0
    breaker.record("t", "de", markers_kept=True)  # works again: forgotten
    breaker.record("t", "de", markers_kept=False)
    assert breaker.allows("t", "de")


def test_a_success_resets_the_count() -> None:
    breaker = PackingBreaker(pause_after=2, clock=Clock())
    breaker.record("t", "de", markers_kept=False)
    breaker.record("t", "de", markers_kept=True)
    breaker.record("t", "de", markers_kept=False)
    assert breaker.allows("t", "de")
