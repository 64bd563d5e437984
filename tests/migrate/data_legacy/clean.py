"""Nothing to migrate here."""


def add(a, b):
    return a + b
