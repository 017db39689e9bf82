"""Function-space building blocks (plain ``nn.Module``s, no Lightning)."""
