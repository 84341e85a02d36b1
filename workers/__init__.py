"""The worker processes: the Procfile's rq worker classes and commands, the dashboard's guard
and stats, and autoscaling."""
