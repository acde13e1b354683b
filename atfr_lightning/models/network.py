"""Build any registered backbone with an SGS layer at a chosen stage."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork
from atfr_lightning.models.backbones import get_backbone_spec
from atfr_lightning.models.pooling import make_temporal_max_pools_round_up, make_temporal_pools_adaptive
from atfr_lightning.models.pretrained import LoadReport, load_pretrained
from atfr_lightning.models.surgery import build_registered, pop_final_activation, stage_output_channels
from atfr_lightning.models.temporal_average import FixedTemporalAverage
from atfr_lightning.models.temporal_padding import check_temporal_padding, use_replicate_temporal_padding
from atfr_lightning.sgs import SimilarityGuidedSampling


class SGSNetwork(AdaptiveTemporalNetwork):
    """A registered PyTorchVideo backbone with (optionally) one SGS layer inserted.

    Input clips (N, 3, T, H, W) -> logits (N, num_classes). With ``sgs=False`` it computes
    exactly what the PyTorchVideo builder's network computes (the head pool is made temporally
    adaptive, which is the same average at the builder's T; C2D/I3D's temporal max pool keeps an
    odd last slice, which changes nothing at an even T).

    Two-pathway backbones (``slowfast_*``): ``SGSNetwork(backbone="slowfast_r50", ...)`` returns a
    :class:`~atfr_lightning.models.slowfast.SlowFastSGSNetwork` built from the same arguments
    (one SGS layer per pathway), so configs name every backbone through this one class.

    Args:
        backbone: registered name, e.g. ``"x3d_s"`` (see :func:`available_backbones`).
        num_classes: K.
        num_frames: T of the input clip; ``None`` takes the backbone's standard value.
        crop_size: H = W of the input clip; ``None`` takes the backbone's standard value.
        dropout: dropout before the classifier.
        backbone_kwargs: extra builder arguments (e.g. ``width_factor`` for a smaller X3D).
        sgs: insert an SGS layer.
        insert_after: the stage SGS follows (``"res2"`` in the paper; any of the backbone's
            ``sgs_stages``).
        num_bins: B; ``None`` means B = T at the insertion point.
        latent_dim: L of the SGS embedding.
        distance: ``"l2_mean"`` or ``"norm"``.
        kernel: ``"linear"`` or ``"linear_normalized"``.
        sgs_mode: ``"default"`` or ``"reference"``.
        sgs_order: ``"similarity"`` (reference) or ``"time"``: order of the bins after SGS.
        execution: ``"exact"`` (masked in training, grouped in evaluation), ``"grouped"``,
            ``"masked"`` or ``"padded"`` (the reference); see :class:`AdaptiveTemporalNetwork`.
        pretrained: path of a local checkpoint (model-zoo ``{"model_state": ...}`` or a plain
            state dict) to load; see :func:`~atfr_lightning.models.pretrained.load_pretrained`.
            The report is kept in ``self.pretrained_report``.
        replace_head: with ``pretrained``, keep this network's fresh classifier instead of the
            checkpoint's (fine-tuning to another number of classes).
        temporal_padding: ``"zeros"`` (PyTorchVideo and the released code) or ``"replicate"``:
            the convolutions before the insertion point (``blocks[:k+1]``) pad T by repeating
            the edge slices (spatial padding stays zeros), so a static clip's features are the
            same at every t and SGS can give it one bin. Applies with or without SGS; state-dict
            keys are unchanged (see :mod:`~atfr_lightning.models.temporal_padding`).
        temporal_average: k; with k > 1 (and ``sgs=False``) a fixed k:1 temporal average
            (:class:`~atfr_lightning.models.temporal_average.FixedTemporalAverage`) follows the
            ``insert_after`` stage, after its final activation: the non-adaptive control for
            SGS. T at that point must be a multiple of k.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> nn.Module:
        backbone = kwargs.get("backbone")
        if cls is SGSNetwork and backbone is not None and get_backbone_spec(backbone).family == "slowfast":
            from atfr_lightning.models.slowfast import SlowFastSGSNetwork

            # Not an SGSNetwork instance, so Python does not call SGSNetwork.__init__ on it.
            return SlowFastSGSNetwork(*args, **kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        *,
        backbone: str = "x3d_s",
        num_classes: int,
        num_frames: int | None = None,
        crop_size: int | None = None,
        dropout: float = 0.5,
        backbone_kwargs: dict[str, Any] | None = None,
        sgs: bool = True,
        insert_after: str = "res2",
        num_bins: int | None = None,
        latent_dim: int = 8,
        distance: str = "l2_mean",
        kernel: str = "linear",
        sgs_mode: str = "default",
        sgs_order: str = "similarity",
        execution: str = "exact",
        pretrained: str | None = None,
        replace_head: bool = False,
        temporal_padding: str = "zeros",
        temporal_average: int = 1,
    ) -> None:
        check_temporal_padding(temporal_padding)
        if temporal_average < 1:
            raise ValueError(f"temporal_average must be >= 1 (1 = no average), got {temporal_average}")
        if temporal_average > 1 and sgs:
            raise ValueError(
                f"temporal_average={temporal_average} is a fixed reduction in place of SGS: pass sgs=False with it"
            )
        spec, net, num_frames, crop_size = build_registered(
            backbone=backbone, num_classes=num_classes, num_frames=num_frames, crop_size=crop_size,
            dropout=dropout, backbone_kwargs=backbone_kwargs, insert_after=insert_after,
        )
        self.backbone_name = backbone
        self.num_frames = num_frames
        self.crop_size = crop_size
        blocks = net.blocks
        make_temporal_pools_adaptive(blocks[-1])
        make_temporal_max_pools_round_up(blocks)
        index = spec.stages.index(insert_after)
        if temporal_padding == "replicate":
            use_replicate_temporal_padding(blocks[: index + 1])
        self.temporal_padding = temporal_padding
        self.temporal_average = temporal_average
        layer = activation = None
        if sgs:
            layer = SimilarityGuidedSampling(
                in_channels=stage_output_channels(blocks[index]),
                num_bins=num_bins,
                latent_dim=latent_dim,
                distance=distance,
                kernel=kernel,
                mode=sgs_mode,
                order=sgs_order,
            )
            activation = pop_final_activation(blocks[index])
        elif temporal_average > 1:
            # Without SGS the stage keeps its final activation and the base class applies
            # ``activation`` to the stage's output: the average comes after the ReLU.
            activation = FixedTemporalAverage(stride=temporal_average)
        super().__init__(
            blocks=blocks, insert_after=index, sgs=layer, activation=activation, execution=execution
        )
        self._frame_multiple = 1
        if temporal_average > 1:
            steps = self._steps_at_insertion()
            # T reaching the average must divide by it, for any clip length the network is given.
            self._frame_multiple = temporal_average * max(num_frames // steps, 1)
            if steps % temporal_average:
                raise ValueError(
                    f"temporal_average={temporal_average} needs T at {insert_after!r} to be a multiple of "
                    f"{temporal_average}, got T = {steps} (num_frames={num_frames})"
                )
        self.num_classes = num_classes
        self.pretrained_report: LoadReport | None = None
        if pretrained is not None:
            self.pretrained_report = load_pretrained(self, pretrained, replace_head=replace_head)
        elif replace_head:
            raise ValueError("replace_head=True needs a checkpoint: pass pretrained=<path>")

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
