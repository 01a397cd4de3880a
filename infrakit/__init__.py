"""InfraKit: one stack file turns a bare server into a hardened, monitored chain node."""

__version__ = "0.1.0"
