"""The transparency log: the checkpointer, signed checkpoints, the stored tree and its queries, verification, replay."""
