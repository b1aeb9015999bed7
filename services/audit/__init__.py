"""Issue 5: the audit trail, time travel, the transparency log, verification and replay."""
