"""The write side's application layer: typed commands, their handlers, the ports they need."""
