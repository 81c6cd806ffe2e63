"""Image logging as wandb's documentation shows it; runs unchanged apart from the import line."""

import numpy as np

import tracker as wandb

run = wandb.init(project="porting", name="images")
examples = []
for i in range(3):
    pixels = np.random.randint(low=0, high=256, size=(100, 100, 3))
    image = wandb.Image(pixels, caption=f"random field {i}")
    examples.append(image)
wandb.log({"examples": examples})
run.finish()
