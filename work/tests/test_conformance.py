"""work.conformance: the kit passes the docs' example kind, and refuses each deliberately broken job.

The kinds are tests/workapp's: Report (docs/adding-jobs.md's example, word for word) and the
broken tallies, each wrong in one way a hand-written job can be, its violation named.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from tests.workapp.models import CarelessTally, Report, SwallowingTally, Tally, UnclaimedTally
from work import claims, conformance


def new_report() -> Report:
    report = Report.objects.create(upload=default_storage.save("amounts.txt", ContentFile(b"1250\n300\n")))
    claims.enqueue_on_commit(report)
    return report


def runs(tally: Tally) -> int:
    return tally.runs


test_the_docs_example_keeps_the_guarantees = conformance.suite(Report, make_row=new_report)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_job_that_stores_its_result_without_the_claim_check_is_refused():
    with pytest.raises(conformance.Violation, match=r"(?s)'lapsed_lease'.*The stale run wrote .*runs 0 -> 1"):
        conformance.check(
            CarelessTally, make_row=CarelessTally.objects.create, count_done=runs, scenarios=["lapsed_lease"]
        )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_job_that_swallows_a_shutdown_is_refused():
    with pytest.raises(conformance.Violation, match=r"(?s)'sigterm'.*The row was not handed back: status 'done'"):
        conformance.check(
            SwallowingTally,
            make_row=SwallowingTally.objects.create,
            count_done=runs,
            fault_at="tests.workapp.jobs.count",
            scenarios=["sigterm"],
        )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_job_that_never_claims_its_row_is_refused():
    with pytest.raises(conformance.Violation, match=r"'duplicate_delivery'.*The work was done 2 times"):
        conformance.check(
            UnclaimedTally, make_row=UnclaimedTally.objects.create, count_done=runs, scenarios=["duplicate_delivery"]
        )
