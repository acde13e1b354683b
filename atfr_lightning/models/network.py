"""Single-pathway backbones with an SGS layer (or a fixed temporal average) at a chosen stage."""

from __future__ import annotations

import torch

from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork
from atfr_lightning.models.pooling import make_temporal_max_pools_round_up, make_temporal_pools_adaptive
from atfr_lightning.models.registered import RegisteredNetwork, StageCut
from atfr_lightning.models.surgery import pop_final_activation, stage_output_channels
from atfr_lightning.models.temporal_average import FixedTemporalAverage
from atfr_lightning.models.temporal_padding import use_replicate_temporal_padding


class SGSNetwork(RegisteredNetwork):
    """A single-pathway PyTorchVideo backbone (X3D, ResNets, R(2+1)D, CSN) with one SGS layer.

    Input clips (N, 3, T, H, W) -> logits (N, num_classes). With ``sgs=False`` it computes
    exactly what the PyTorchVideo builder's network computes (the head pool is made temporally
    adaptive, which is the same average at the builder's T; C2D/I3D's temporal max pool keeps an
    odd last slice, which changes nothing at an even T). With ``temporal_average=k > 1`` (and
    ``sgs=False``) a fixed k:1 temporal average
    (:class:`~atfr_lightning.models.temporal_average.FixedTemporalAverage`) follows the
    ``insert_after`` stage, after its final activation; T at that point must be a multiple of k.

    The arguments are :class:`~atfr_lightning.models.registered.RegisteredNetwork`'s. Two-pathway
    backbones (``slowfast_*``) are refused with a pointer to
    :class:`~atfr_lightning.models.slowfast.SlowFastSGSNetwork`;
    :func:`~atfr_lightning.models.factory.build_network` picks the class from the backbone.
    """

    families = ("x3d", "resnet")

    def _assemble(self, cut: StageCut) -> None:
        spec, blocks, index, sgs_options = cut.spec, cut.blocks, cut.index, cut.sgs_options
        make_temporal_pools_adaptive(blocks[-1])
        make_temporal_max_pools_round_up(blocks)
        if self.temporal_padding == "replicate":
            use_replicate_temporal_padding(blocks[: index + 1])
        layer = activation = None
        if sgs_options is not None:
            layer = sgs_options.build(in_channels=stage_output_channels(blocks[index]), num_bins=cut.num_bins)
            activation = pop_final_activation(blocks[index])
        elif self.temporal_average > 1:
            # Without SGS the stage keeps its final activation and the base class applies
            # ``activation`` to the stage's output: the average comes after the ReLU.
            activation = FixedTemporalAverage(stride=self.temporal_average)
        AdaptiveTemporalNetwork.__init__(
            self, blocks=blocks, insert_after=index, sgs=layer, activation=activation, execution=cut.execution
        )
        self._frame_multiple = 1
        if self.temporal_average > 1:
            steps = self._steps_at_insertion()
            # T reaching the average must divide by it, for any clip length the network is given.
            self._frame_multiple = self.temporal_average * max(self.num_frames // steps, 1)
            if steps % self.temporal_average:
                raise ValueError(
                    f"temporal_average={self.temporal_average} needs T at {spec.stages[index]!r} to be a multiple of "
                    f"{self.temporal_average}, got T = {steps} (num_frames={self.num_frames})"
                )

    def input_requirements(self) -> dict:
        multiple = getattr(self, "_frame_multiple", 1)
        return {"crop_size": self.crop_size, "min_frames": multiple, "frame_multiple": multiple}

    @torch.no_grad()
    def _steps_at_insertion(self) -> int:
        """T of the features at the insertion point for a clip of ``num_frames`` frames."""
        # T depends on temporal kernels, strides and paddings only, so a small crop finds it
        # cheaply; evaluation mode leaves batch norm's running statistics untouched.
        training = self.training
        try:
            side = min(self.crop_size, 32)
            return self.eval().pre(torch.zeros(1, 3, self.num_frames, side, side)).shape[2]
        finally:
            self.train(training)
