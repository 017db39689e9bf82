"""PDE definitions and residuals: weak forms with CSRBF test functions, strong forms."""
