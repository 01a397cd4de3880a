"""Stack configuration: models, loading from a stack file or the Pulumi engine, errors."""

from infrakit.config.errors import ConfigError
from infrakit.config.loader import RawConfig, Stack, list_stacks, load, load_stack, read_stack_file
from infrakit.config.models import StackConfig

__all__ = ["ConfigError", "RawConfig", "Stack", "StackConfig", "list_stacks", "load", "load_stack", "read_stack_file"]
