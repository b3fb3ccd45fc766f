"""Schedules (Asia/Shanghai). Monthly: ingest and plan after the month's exports are complete; the
``cycle_plan_sensor`` then runs the scoring over the plan's as-of dates. Retraining every six months
(time.model_update_frequency_months) over the latest plan's as-of dates."""

import dagster as dg

from pipelines.jobs import ingest_and_plan_job, retraining_job

monthly_scoring_schedule = dg.ScheduleDefinition(
    name="monthly_scoring_schedule", job=ingest_and_plan_job, cron_schedule="0 6 6 * *",
    execution_timezone="Asia/Shanghai",
    description="06:00 on the 6th: attendance is reported 5 days after month end (contracts/education.yaml); "
                "the cycle_plan_sensor continues with the scoring run.",
)


@dg.schedule(name="retraining_schedule", job=retraining_job, cron_schedule="0 3 10 1,7 *",
             execution_timezone="Asia/Shanghai")
def retraining_schedule(context: dg.ScheduleEvaluationContext):
    """Twice a year over the latest cycle plan's as-of dates; a retrained model serves only after a
    governance reviewer approves its card."""
    from pipelines.sensors import latest_plan_request

    return latest_plan_request("retraining", context.scheduled_execution_time.strftime("%Y-%m-%d"))


schedules = [monthly_scoring_schedule, retraining_schedule]
