"""Durable work: rows that carry their job's state (`WorkItem`), the claim protocol,
`@durable.job`, and the sweep that re-queues lost work."""
