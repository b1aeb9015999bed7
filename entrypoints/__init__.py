"""Entry points: the command line, the local runtime and the app factories; the one layer that imports every other."""
