"""An artifact round trip as wandb's documentation shows it; runs unchanged apart from the import line."""

import os

import tracker as wandb

os.makedirs("data", exist_ok=True)
with open("data/train.csv", "w") as f:
    f.write("x,y\n1,2\n")

run = wandb.init(project="porting", name="artifacts-producer", job_type="dataset")
artifact = wandb.Artifact(name="training-data", type="dataset", description="a tiny csv", metadata={"rows": 1})
artifact.add_file(local_path="data/train.csv")
with artifact.new_file("labels.txt") as f:
    f.write("cat\ndog\n")
run.log_artifact(artifact, aliases=["baseline"])
run.finish()

run = wandb.init(project="porting", name="artifacts-consumer", job_type="train")
artifact = run.use_artifact("training-data:latest")
datadir = artifact.download()
with open(os.path.join(datadir, "train.csv")) as f:
    assert f.read() == "x,y\n1,2\n"
run.finish()
