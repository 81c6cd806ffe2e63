"""Table logging as wandb's documentation shows it; runs unchanged apart from the import line."""

import numpy as np

import tracker as wandb

run = wandb.init(project="porting", name="tables")
table = wandb.Table(columns=["id", "image", "prediction", "truth"])
for i in range(3):
    table.add_data(i, wandb.Image(np.random.rand(28, 28)), i % 2, 1)
run.log({"predictions": table})
my_data = [[0, "cat"], [1, "dog"]]
run.log({"pets": wandb.Table(data=my_data, columns=["id", "label"])})
run.finish()
