"""`humiao run`'s console: a failing step shows its message (file, row, column; zh and en), not Python
stack frames (new-user finding); DEBUG shows everything; the event log keeps the whole error."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.loggers import humiao_console_logger, without_stack_frames

MESSAGE = "入库失败：缺少必需的列 公民身份号码 / ingest failed: required column missing"


@dg.asset
def failing():
    raise ValueError(MESSAGE)


@dg.asset(deps=[failing])
def downstream():
    return 1


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_step_failure_on_the_console(capfd, tmp_path, level):
    job = dg.Definitions(assets=[failing, downstream], loggers={"console": humiao_console_logger}).resolve_implicit_global_asset_job_def()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False,
                                        run_config={"loggers": {"console": {"config": {"log_level": level}}}})
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert failure.step_failure_data.error.stack  # the event log keeps the frames
    err = capfd.readouterr().err
    assert MESSAGE in err and "STEP_FAILURE" in err
    if level == "INFO":
        assert 'File "' not in err and "HUMIAO_LOG_LEVEL=DEBUG" in err
        assert "Dependencies for step downstream failed" not in err  # consequences of the one failure
    else:
        assert 'File "' in err and "Dependencies for step downstream failed" in err


def test_cause_lines_stay():
    text = ("Execution of step failed.\nValueError: outer\n\nStack Trace:\n  File \"a.py\", line 1, in f\n"
            "    x()\n    ^^^\n\nThe above exception was caused by the following exception:\n"
            "KeyError: 'col'\n\nStack Trace:\n  File \"b.py\", line 2, in g\n")
    short = without_stack_frames(text)
    assert "ValueError: outer" in short and "KeyError: 'col'" in short and "caused by" in short
    assert 'File "' not in short
