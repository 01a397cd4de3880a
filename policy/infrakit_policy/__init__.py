"""InfraKit's CrossGuard policy pack: rules (pure functions) and their Pulumi policy wiring."""
