"""The command line: ``atfr fit|validate|test|predict --config ...`` (LightningCLI)."""

from __future__ import annotations

import sys

import lightning as L
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO

from atfr_lightning.callbacks.sweep_history import sweep_history_callbacks
from atfr_lightning.cpu_memory import keep_freed_memory
from atfr_lightning.lightning.module import VideoClassifier
from atfr_lightning.lightning.resume import AtomicCheckpointIO
from atfr_lightning.wandb_mode import configure_wandb_mode, wandb_logged_in  # noqa: F401 (public here too)

# Network arguments the CLI takes from the datamodule (target -> source).
LINKED_FROM_DATA = {
    "model.net.init_args.num_frames": "data.init_args.num_frames",
    "model.net.init_args.crop_size": "data.init_args.crop_size",
    "model.net.init_args.num_classes": "data.init_args (the datamodule's num_classes)",
}


def checkpoint_num_classes(path: str) -> int:
    """Classes of a saved classifier: its ``class_names``, else the rows of its last linear layer."""
    import torch

    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if checkpoint.get("class_names"):
        return len(checkpoint["class_names"])
    weights = [v for k, v in checkpoint.get("state_dict", {}).items() if k.endswith("proj.weight") and v.dim() == 2]
    if not weights:
        raise ValueError(f"cannot tell the number of classes of {path}: it has no class_names and no head weight")
    return int(weights[-1].shape[0])


class ATFRCLI(LightningCLI):
    """LightningCLI with the classifier fixed and any LightningDataModule by class path.

    ``num_frames``, ``crop_size`` (parse time) and ``num_classes`` (when the datamodule is built)
    are linked from ``data`` into ``model.net``: configs give them once, under ``data``.
    Checkpoints are written atomically (:class:`AtomicCheckpointIO`) unless the config chose
    another checkpoint IO.
    """

    def add_arguments_to_parser(self, parser) -> None:
        # Stated once, by the data: the network takes the clip length, crop and class count of
        # the datamodule, so a config or an override can never make them disagree (giving one of
        # them under model.net is a parse error). num_classes is read when the datamodule exists
        # (real datasets count their classes from the annotations).
        parser.link_arguments("data.init_args.num_frames", "model.net.init_args.num_frames")
        parser.link_arguments("data.init_args.crop_size", "model.net.init_args.crop_size")
        parser.link_arguments(
            "data", "model.net.init_args.num_classes", compute_fn=self._num_classes, apply_on="instantiate"
        )

    def _num_classes(self, datamodule: L.LightningDataModule) -> int:
        """The datamodule's class count; for unlabelled data (a video folder) the checkpoint's."""
        count = getattr(datamodule, "num_classes", None)
        if count is not None:
            return int(count)
        config = self.config.get(self.subcommand, self.config) if self.subcommand else self.config
        ckpt_path = config.get("ckpt_path")
        if not ckpt_path:
            raise ValueError(
                f"{type(datamodule).__name__} has no classes of its own: give --ckpt_path so the network takes "
                "the checkpoint's number of classes"
            )
        return checkpoint_num_classes(ckpt_path)

    def parse_arguments(self, parser, args) -> None:
        # A value given for a linked target would be silently replaced by the data's: refuse it.
        raw = sys.argv[1:] if args is None else args
        if isinstance(raw, (list, tuple)):
            for arg in map(str, raw):
                key = arg.split("=", 1)[0].lstrip("-")
                if key in LINKED_FROM_DATA:
                    parser.error(
                        f"{key} is given by the data: set --{LINKED_FROM_DATA[key]} instead "
                        "(the CLI links it into the network, so the two can never disagree)"
                    )
        super().parse_arguments(parser, args)

    def before_predict(self) -> None:
        # Inference on a CPU: keep freed activations' memory for the next batch instead of
        # faulting it in again every pass (atfr_lightning.cpu_memory: about 1.3x less CPU time for X3D-S).
        if self.trainer.strategy.root_device.type == "cpu":
            keep_freed_memory()

    def instantiate_trainer(self, **kwargs) -> L.Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer


def run_cli(args: list[str] | None = None, *, run: bool = True) -> ATFRCLI:
    """Build (and by default run) the CLI; returns it so tests can inspect trainer and model."""
    configure_wandb_mode()
    return ATFRCLI(
        VideoClassifier,
        L.LightningDataModule,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
        auto_configure_optimizers=False,
        # Under atfr-sweep, report each validation's metrics live (for hyperband); nothing otherwise.
        trainer_defaults={"callbacks": sweep_history_callbacks()},
    )


def main() -> None:
    """Console-script entry point (``atfr``); returns None so the exit status is 0."""
    run_cli()


if __name__ == "__main__":
    main()
