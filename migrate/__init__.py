"""migrate: move manually wired queuack tasks onto the TaskContext."""

__version__ = "0.2.0"
