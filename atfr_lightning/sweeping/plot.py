"""The sweep's figure: the metric against each swept parameter (one panel per parameter)."""

from __future__ import annotations

from pathlib import Path

from atfr_lightning.sweeping.spec import SweepSpec


def plot_trials(trials: list, *, spec: SweepSpec, path: Path) -> None:
    """Numeric parameters on a numeric axis (log where the sweep samples log-uniformly), others as categories."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [t for t in trials if t.metric is not None]
    names = spec.parameter_names
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        values = [t.params.get(name) for t in done]
        metrics = [t.metric for t in done]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric:
            ax.scatter(values, metrics)
            if "log" in str(spec.config["parameters"][name].get("distribution", "")):
                ax.set_xscale("log")
        else:
            categories = list(dict.fromkeys(map(str, values)))
            ax.scatter([categories.index(str(v)) for v in values], metrics)
            ax.set_xticks(range(len(categories)), categories)
        for t, v in zip(done, values):
            if t.state == "stopped":  # ended early by hyperband: its metric is not a final one
                ax.annotate("stopped", (v if numeric else categories.index(str(v)), t.metric), fontsize=7)
        ax.set_xlabel(name.split(".")[-1])
        ax.set_ylabel(spec.metric_name)
        ax.grid(alpha=0.3)
    fig.suptitle(f"sweep {spec.name} ({spec.method}, {len(done)} runs with a metric)")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
