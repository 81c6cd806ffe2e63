"""The tracker on its own: one run, a few metrics, then read it back the way another tool would."""

import math

import tracker

with tracker.init(project="quickstart", config={"lr": 0.1, "epochs": 20}, tags=["example"]) as run:
    run.define_metric("loss", summary="min")
    for epoch in range(run.config.epochs):
        loss = math.exp(-run.config.lr * epoch) + 0.01 * (epoch % 3)
        run.log({"loss": loss, "epoch": epoch})

view = tracker.Api().run(f"quickstart/{run.id}")
print(f"{view.name}: state={view.state}, steps={len(view.history())}, best loss={view.summary['loss']:.4f}")
print(f"stored in {view.path}")
