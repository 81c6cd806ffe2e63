"""Histogram logging as wandb's documentation shows it; runs unchanged apart from the import line."""

import numpy as np

import tracker as wandb

wandb.init(project="porting", name="histograms")
for _ in range(3):
    gradients = np.random.normal(size=1000)
    wandb.log({"gradients": wandb.Histogram(gradients)})
    wandb.log(
        {"raw": np.histogram(gradients)[0].tolist(), "weights": wandb.Histogram(np_histogram=np.histogram(gradients))}
    )
wandb.finish()
