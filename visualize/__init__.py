"""Pictures: sample grids for images, scatter plots over the data for 2-D sets, time grids."""

from __future__ import annotations

import math
import os
import sys

import numpy as np


def _pyplot(path: str | None = None):
    # Matplotlib caches its font list under ~/.cache unless MPLCONFIGDIR says otherwise: keep it
    # beside the first picture, in the workdir, the only place a run writes to.
    if path is not None and "matplotlib" not in sys.modules:
        os.environ.setdefault("MPLCONFIGDIR", os.path.join(os.path.dirname(os.path.abspath(path)), ".matplotlib"))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def image_grid(images: np.ndarray, ncol: int | None = None, pad: int = 1) -> np.ndarray:
    """Tiles images [B, H, W, C] in [0, 1] into one [rows*(H+pad), cols*(W+pad), C] array."""
    images = np.asarray(images)
    b, h, w, c = images.shape
    ncol = ncol or int(math.ceil(math.sqrt(b)))
    nrow = int(math.ceil(b / ncol))
    grid = np.ones((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), images.dtype)
    for i, img in enumerate(images):
        r, q = divmod(i, ncol)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = img
    return grid


def save_image_grid(path: str, images: np.ndarray, title: str | None = None) -> str:
    """Writes images [B, H, W, C] with values in [0, 1] as one PNG grid."""
    plt = _pyplot(path)
    grid = np.clip(image_grid(images), 0.0, 1.0)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray" if grid.shape[-1] == 1 else None,
              interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    _save(fig, path)
    return path


def save_image_grid_rows(path: str, images: np.ndarray, ncol: int, row_titles: list[str]) -> str:
    """Writes images [rows * ncol, H, W, C] in [0, 1] as a grid with one titled row per group."""
    plt = _pyplot()
    nrow = len(row_titles)
    fig, axes = plt.subplots(nrow, 1, figsize=(max(6, ncol * 0.6), 1.1 * nrow + 0.5), squeeze=False)
    for r, title in enumerate(row_titles):
        grid = np.clip(image_grid(images[r * ncol:(r + 1) * ncol], ncol=ncol), 0.0, 1.0)
        axes[r, 0].imshow(grid[..., 0] if grid.shape[-1] == 1 else grid,
                          cmap="gray" if grid.shape[-1] == 1 else None, interpolation="nearest")
        axes[r, 0].set_ylabel(title, rotation=0, ha="right", va="center")
        axes[r, 0].set_xticks([])
        axes[r, 0].set_yticks([])
    _save(fig, path)
    return path


def save_scatter(path: str, samples: np.ndarray, data: np.ndarray | None = None, title: str | None = None) -> str:
    """Writes a scatter plot of 2-D samples beside (and over) data drawn from the true distribution."""
    plt = _pyplot(path)
    samples = np.asarray(samples)
    panels = 1 if data is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 5), squeeze=False)
    pts = samples if data is None else np.concatenate([samples, data])
    lo, hi = np.percentile(pts, 0.5, axis=0), np.percentile(pts, 99.5, axis=0)
    margin = 0.1 * (hi - lo)
    if data is not None:
        axes[0, 0].scatter(data[:, 0], data[:, 1], s=2, alpha=0.5, c="tab:gray")
        axes[0, 0].set_title(f"data ({len(data)} points)")
    ax = axes[0, panels - 1]
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.5, c="tab:blue")
    ax.set_title(title or f"samples ({len(samples)} points)")
    for a in axes[0]:
        a.set_xlim(lo[0] - margin[0], hi[0] + margin[0])
        a.set_ylim(lo[1] - margin[1], hi[1] + margin[1])
        a.set_aspect("equal")
    _save(fig, path)
    return path


def save_grid_plot(path: str, log_snr_fitted: np.ndarray, log_snr_initial: np.ndarray, errors: np.ndarray,
                   title: str) -> str:
    """A fitted time grid beside the one it started from (log-SNR of each step), and the pilot
    error against the fitting iteration."""
    plt = _pyplot(path)
    fig, (ax_grid, ax_err) = plt.subplots(1, 2, figsize=(11, 4))
    for lam, label, marker in ((log_snr_initial, "initial grid", "o"), (log_snr_fitted, "fitted grid", "s")):
        ax_grid.plot(np.arange(len(lam)), lam, marker + "-", ms=4, label=label)
    ax_grid.set(xlabel="step", ylabel="log-SNR lambda = log(alpha / sigma)", title=title)
    ax_grid.legend()
    ax_err.semilogy(np.arange(len(errors)), errors)
    ax_err.set(xlabel="iteration", ylabel="relative RMS error vs converged ODE (pilot batch)",
               title="fitting the grid")
    _save(fig, path)
    return path


def _save(fig, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    os.replace(tmp, path)
