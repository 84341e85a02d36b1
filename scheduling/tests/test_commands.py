"""Management commands typed as older tutorials teach them: `rqscheduler` and `rqcron` are not needed here.

The schedule runs inside the worker dynos (scheduling/scheduler.py), so these say so in one
line, point to `manage.py schedule`, and exit 2, whatever their arguments, instead of starting a
clock process (rqcron) or failing for want of rq-scheduler (rqscheduler).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError

from tests.support.processes import ROOT


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "args",
    [
        ["rqscheduler"],
        ["rqscheduler", "--interval", "60", "--queue", "default"],
        ["rqcron", "some_config.py"],
        ["rqcron"],
        ["rqcron", "myapp.cron_jobs", "--logging-level", "DEBUG"],
    ],
)
def test_a_clock_command_says_in_one_line_that_the_schedule_runs_in_the_workers_and_exits_2(args):
    result = manage(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1, lines
    [line] = lines
    assert line.startswith(f"{args[0]} is not needed here")
    assert "worker dynos" in line
    assert "python manage.py schedule" in line
    assert "Traceback" not in line


def test_ours_replace_django_rqs_and_manage_py_help_lists_them():
    commands = get_commands()
    assert commands["rqscheduler"] == "scheduling"
    assert commands["rqcron"] == "scheduling"
    listing = manage("help")
    assert listing.returncode == 0, listing.stderr
    scheduling = listing.stdout.split("[scheduling]", 1)[1].split("\n\n", 1)[0].split()
    assert {"rqscheduler", "rqcron"} <= set(scheduling)


def test_called_from_code_they_raise_a_command_error_with_status_2():
    with pytest.raises(CommandError) as refused:
        call_command("rqcron", "some_config.py")
    assert refused.value.returncode == 2
    assert "python manage.py schedule" in str(refused.value)
