"""Side-by-side benchmark of tracker against wandb, trackio and mlflow (run with `python -m bench`)."""
