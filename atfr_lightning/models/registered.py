"""The constructor every registered network shares: arguments, checks, SGS options, pretrained weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork
from atfr_lightning.models.backbones import BackboneSpec, get_backbone_spec
from atfr_lightning.models.pretrained import LoadReport, load_pretrained
from atfr_lightning.models.surgery import build_registered
from atfr_lightning.models.temporal_padding import check_temporal_padding
from atfr_lightning.sgs import SimilarityGuidedSampling


@dataclass(frozen=True)
class SGSLayerOptions:
    """What every SGS layer of a network shares; only C and B differ per layer (per pathway)."""

    latent_dim: int = 8
    distance: str = "l2_mean"
    kernel: str = "linear"
    mode: str = "default"
    order: str = "similarity"
    tents: str = "disjoint"

    def build(self, *, in_channels: int, num_bins: int | None) -> SimilarityGuidedSampling:
        return SimilarityGuidedSampling(
            in_channels=in_channels, num_bins=num_bins, latent_dim=self.latent_dim, distance=self.distance,
            kernel=self.kernel, mode=self.mode, order=self.order, tents=self.tents,
        )


@dataclass(frozen=True)
class StageCut:
    """Where and how a subclass cuts the built backbone (what :meth:`RegisteredNetwork._assemble` gets).

    ``blocks`` are the builder's blocks, ``index`` the stage SGS follows, ``sgs_options`` None
    without SGS, ``num_bins`` B (None: B = T), ``execution`` the scheme after SGS.
    """

    spec: BackboneSpec
    blocks: nn.ModuleList
    index: int
    sgs_options: SGSLayerOptions | None
    num_bins: int | None
    execution: str


class RegisteredNetwork(AdaptiveTemporalNetwork):
    """A registered PyTorchVideo backbone cut at one stage for SGS; subclasses say how it is cut.

    Input clips (N, 3, T, H, W) -> logits (N, num_classes). The constructor is written once here;
    a subclass serves the backbone families in ``families`` and implements :meth:`_assemble`.
    Use :class:`~atfr_lightning.models.network.SGSNetwork` for single-pathway backbones,
    :class:`~atfr_lightning.models.slowfast.SlowFastSGSNetwork` for two-pathway ones, or
    :func:`~atfr_lightning.models.factory.build_network`, which picks between them.

    Args:
        backbone: registered name, e.g. ``"x3d_s"`` (see :func:`available_backbones`).
        num_classes: K.
        num_frames: T of the input clip; ``None`` takes the backbone's standard value.
        crop_size: H = W of the input clip; ``None`` takes the backbone's standard value.
        dropout: dropout before the classifier.
        backbone_kwargs: extra builder arguments (e.g. ``width_factor`` for a smaller X3D).
        sgs: insert an SGS layer (one per pathway).
        insert_after: the stage SGS follows (``"res2"`` in the paper; any of the backbone's
            ``sgs_stages``).
        num_bins: B; ``None`` means B = T at the insertion point.
        latent_dim: L of the SGS embedding.
        distance: ``"l2_mean"`` or ``"norm"``.
        kernel: ``"linear"``, ``"linear_normalized"`` or ``"linear_mean"`` (see the SGS layer).
        sgs_mode: ``"default"`` or ``"reference"``.
        sgs_order: ``"similarity"`` (reference) or ``"time"``: order of the bins after SGS.
        sgs_tents: ``"disjoint"`` (the paper) or ``"overlapping"`` (every slice's weight split
            between its two nearest bins; default mode only); see the SGS layer.
        execution: ``"exact"`` (masked in training, packed in evaluation), ``"packed"``,
            ``"bucketed"``, ``"grouped"``, ``"masked"`` or ``"padded"`` (the reference); see
            :class:`AdaptiveTemporalNetwork`.
        pretrained: path of a local checkpoint (model-zoo ``{"model_state": ...}``, a Lightning
            checkpoint or a plain state dict) to load; see
            :func:`~atfr_lightning.models.pretrained.load_pretrained`. The report is kept in
            ``self.pretrained_report``.
        replace_head: with ``pretrained``, keep this network's fresh classifier instead of the
            checkpoint's (fine-tuning to another number of classes).
        temporal_padding: ``"zeros"`` (PyTorchVideo and the released code) or ``"replicate"``:
            the convolutions before the insertion point pad T by repeating the edge slices
            (spatial padding stays zeros), so a static clip's features are the same at every t and
            SGS can give it one bin. State-dict keys are unchanged (see
            :mod:`~atfr_lightning.models.temporal_padding`).
        temporal_average: k; with k > 1 (and ``sgs=False``) a fixed k:1 temporal average follows
            the ``insert_after`` stage: the non-adaptive control for SGS (single-pathway only).
    """

    #: Backbone families (``BackboneSpec.family``) this class builds.
    families: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        backbone: str,
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
        sgs_tents: str = "disjoint",
        execution: str = "exact",
        pretrained: str | None = None,
        replace_head: bool = False,
        temporal_padding: str = "zeros",
        temporal_average: int = 1,
    ) -> None:
        check_temporal_padding(temporal_padding)
        self._check_family(backbone)
        if num_bins is not None and num_bins < 1:
            raise ValueError(f"num_bins must be None (= T) or >= 1, got {num_bins}")
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
        # Plain attributes may be set before nn.Module.__init__ (which _assemble runs).
        self.backbone_name = backbone
        self.num_frames = num_frames
        self.crop_size = crop_size
        self.temporal_padding = temporal_padding
        self.temporal_average = temporal_average
        options = SGSLayerOptions(
            latent_dim=latent_dim, distance=distance, kernel=kernel, mode=sgs_mode, order=sgs_order,
            tents=sgs_tents,
        ) if sgs else None
        self._assemble(StageCut(
            spec=spec, blocks=net.blocks, index=spec.stages.index(insert_after), sgs_options=options,
            num_bins=num_bins, execution=execution,
        ))
        self.num_classes = num_classes
        self.pretrained_report: LoadReport | None = None
        if pretrained is not None:
            self.pretrained_report = load_pretrained(self, pretrained, replace_head=replace_head)
        elif replace_head:
            raise ValueError("replace_head=True needs a checkpoint: pass pretrained=<path>")

    @classmethod
    def _check_family(cls, backbone: str) -> None:
        family = get_backbone_spec(backbone).family
        if family not in cls.families:
            right = "SlowFastSGSNetwork" if family == "slowfast" else "SGSNetwork"
            raise ValueError(
                f"{cls.__name__} builds {'/'.join(cls.families)} backbones, and {backbone!r} is a {family} backbone: "
                f"use atfr_lightning.models.{right} (the class_path in a config) or atfr_lightning.models.build_network, "
                "which picks the class from the backbone"
            )

    def _assemble(self, cut: StageCut) -> None:
        """Cut ``cut.blocks`` after stage ``cut.index``, insert the SGS layer(s) and run the base constructor."""
        raise NotImplementedError
