"""Schedules: monthly scoring after the month's exports are complete; retraining every six months
(time.model_update_frequency_months). Times are Asia/Shanghai."""

import dagster as dg

from pipelines.jobs import monthly_scoring_job, retraining_job

monthly_scoring_schedule = dg.ScheduleDefinition(
    name="monthly_scoring_schedule", job=monthly_scoring_job, cron_schedule="0 6 6 * *",
    execution_timezone="Asia/Shanghai",
    description="06:00 on the 6th: attendance is reported 5 days after month end (contracts/education.yaml).",
)

retraining_schedule = dg.ScheduleDefinition(
    name="retraining_schedule", job=retraining_job, cron_schedule="0 3 10 1,7 *",
    execution_timezone="Asia/Shanghai",
    description="Twice a year; a retrained model serves only after a governance reviewer approves its card.",
)

schedules = [monthly_scoring_schedule, retraining_schedule]
