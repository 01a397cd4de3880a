"""Remote resources (host, bundle, steps) as Pulumi dynamic providers over pooled SSH."""
