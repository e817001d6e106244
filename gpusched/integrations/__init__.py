"""Hand-offs to training and sweep tools, each an optional extra imported on use:
``gpusched.integrations.torch`` (TableLR, per-member tables for vmap ensembles),
``gpusched.integrations.jax`` (optax-compatible callables, ensemble tables) and
``gpusched.integrations.optuna`` (batch ask-and-tell)."""
