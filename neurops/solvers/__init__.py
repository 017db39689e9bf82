"""Numerical methods used to generate data and inside physics losses.

Finite-difference assembly and the Darcy solve (scipy), matrix-free batched operators,
preconditioned conjugate gradients with a geometric multigrid preconditioner, differentiable
linear solves, the deep conjugate direction method, pseudo-spectral / ETDRK4 time steppers and
ODE integrators.
"""
