"""The static floor plan as rendered tiles, per zoom level, the way web maps draw.

Rooms, walls, doors, labels and visible areas do not change while a dispatcher pans and
zooms, yet drawing them (translucent, antialiased polygons in software) is what made a
repaint cost 10–18 ms. They live in a scene of their own, are rendered once per zoom level
into 256-pixel tiles, and a repaint only copies tiles; the pins and overlays on top are
drawn live. While the zoom is changing, the nearest level already rendered is scaled (as
a map app does during a pinch); the view asks for the crisp level once the zoom settles.
Tiles are kept least-recently-used first out, so memory stays bounded at any zoom.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable

from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsScene

TILE_PX = 256
# 192 tiles of 256×256 RGBA are 48 MiB: several zoom levels of a full-screen map.
MAX_TILES = 192

# (level key, device pixel ratio key, column, row)
TileKey = tuple[int, int, int, int]


def level_key(scale: float) -> int:
    """Zoom levels that differ only by rounding share their tiles."""
    return round(scale * 10000)


class PlanTiles:
    """Tiles of one plan scene; ``clear()`` whenever what the scene draws changes."""

    def __init__(self, plan: QGraphicsScene, background: QColor) -> None:
        self._plan = plan
        self._background = background
        self._tiles: OrderedDict[TileKey, QPixmap] = OrderedDict()
        self.rendered = 0  # tiles rendered so far (the benchmark and tests read it)

    def clear(self) -> None:
        self._tiles.clear()

    def set_background(self, background: QColor) -> None:
        """A new paper colour (the theme changed): every cached tile shows the old one."""
        if background != self._background:
            self._background = QColor(background)
            self._tiles.clear()

    def __len__(self) -> int:
        return len(self._tiles)

    def draw(
        self,
        painter: QPainter,
        scale: float,
        origin: QPoint,
        exposed: QRect,
        dpr: float,
        *,
        exact: bool,
    ) -> bool:
        """Paint the plan for ``exposed`` (device pixels); the scene's (0, 0) is at ``origin``.

        With ``exact`` false and a complete other level at hand, that level is scaled
        instead of rendering this one. Returns whether the picture is crisp (exact level).
        """
        wanted = self._indices(scale, origin, exposed)
        dpr_key = round(dpr * 100)
        key = level_key(scale)
        have_all = all((key, dpr_key, i, j) in self._tiles for i, j in wanted)
        if not exact and not have_all:
            fallback = self._fallback_level(scale, origin, exposed, dpr_key)
            if fallback is not None:
                self._draw_scaled(painter, fallback, scale, origin, exposed, dpr_key)
                return False
        self._render_missing(scale, [(i, j) for i, j in wanted], dpr)
        for i, j in wanted:
            tile = self._tiles[(key, dpr_key, i, j)]
            self._tiles.move_to_end((key, dpr_key, i, j))
            painter.drawPixmap(QPoint(origin.x() + i * TILE_PX, origin.y() + j * TILE_PX), tile)
        self._trim(keep=len(wanted))
        return True

    def prefetch(self, scale: float, origin: QPoint, area: QRect, dpr: float) -> int:
        """Render this level's tiles for ``area`` ahead of a pan; returns how many were new."""
        before = self.rendered
        wanted = self._indices(scale, origin, area)
        self._render_missing(scale, wanted, dpr)
        self._trim(keep=len(wanted))
        return self.rendered - before

    def _indices(self, scale: float, origin: QPoint, exposed: QRect) -> list[tuple[int, int]]:
        """Tiles of this level that the exposed device rectangle touches, within the plan."""
        scene = self._plan.sceneRect()
        content = QRectF(scene.left() * scale, scene.top() * scale,
                         scene.width() * scale, scene.height() * scale)  # fmt: skip
        left = max(exposed.left() - origin.x(), math.floor(content.left()))
        top = max(exposed.top() - origin.y(), math.floor(content.top()))
        right = min(exposed.right() + 1 - origin.x(), math.ceil(content.right()))
        bottom = min(exposed.bottom() + 1 - origin.y(), math.ceil(content.bottom()))
        if right <= left or bottom <= top:
            return []
        return [
            (i, j)
            for j in range(math.floor(top / TILE_PX), math.floor((bottom - 1) / TILE_PX) + 1)
            for i in range(math.floor(left / TILE_PX), math.floor((right - 1) / TILE_PX) + 1)
        ]

    def _fallback_level(
        self, scale: float, origin: QPoint, exposed: QRect, dpr_key: int
    ) -> float | None:
        """The rendered level nearest in zoom whose tiles cover the exposed plan area."""
        levels = {k for k, d, _i, _j in self._tiles if d == dpr_key}
        best: tuple[float, float] | None = None
        for key in levels:
            other = key / 10000
            # Where the exposed rectangle falls in that level's pixels.
            ratio = other / scale
            there = QRect(
                math.floor((exposed.left() - origin.x()) * ratio),
                math.floor((exposed.top() - origin.y()) * ratio),
                math.ceil(exposed.width() * ratio) + 1,
                math.ceil(exposed.height() * ratio) + 1,
            )
            needed = self._indices(other, QPoint(0, 0), there)
            if all((key, dpr_key, i, j) in self._tiles for i, j in needed):
                distance = abs(math.log(other / scale))
                if best is None or distance < best[0]:
                    best = (distance, other)
        return None if best is None else best[1]

    def _draw_scaled(
        self,
        painter: QPainter,
        other: float,
        scale: float,
        origin: QPoint,
        exposed: QRect,
        dpr_key: int,
    ) -> None:
        ratio = scale / other
        there = QRect(
            math.floor((exposed.left() - origin.x()) / ratio),
            math.floor((exposed.top() - origin.y()) / ratio),
            math.ceil(exposed.width() / ratio) + 1,
            math.ceil(exposed.height() / ratio) + 1,
        )
        key = level_key(other)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        # Whole-pixel edges without antialiasing: neighbouring tiles meet with no seam.
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        step = TILE_PX * ratio
        for i, j in self._indices(other, QPoint(0, 0), there):
            tile = self._tiles[(key, dpr_key, i, j)]
            self._tiles.move_to_end((key, dpr_key, i, j))
            x0, x1 = round(origin.x() + i * step), round(origin.x() + (i + 1) * step)
            y0, y1 = round(origin.y() + j * step), round(origin.y() + (j + 1) * step)
            painter.drawPixmap(QRect(x0, y0, x1 - x0, y1 - y0), tile, tile.rect())
        painter.restore()

    def _render_missing(self, scale: float, wanted: Iterable[tuple[int, int]], dpr: float) -> None:
        """Render the missing tiles in one pass over their bounding box, then cut it up."""
        key, dpr_key = level_key(scale), round(dpr * 100)
        missing = [(i, j) for i, j in wanted if (key, dpr_key, i, j) not in self._tiles]
        if not missing:
            return
        i0, i1 = min(i for i, _ in missing), max(i for i, _ in missing)
        j0, j1 = min(j for _, j in missing), max(j for _, j in missing)
        width, height = (i1 - i0 + 1) * TILE_PX, (j1 - j0 + 1) * TILE_PX
        side = round(TILE_PX * dpr)
        image = QImage(
            round(width * dpr), round(height * dpr), QImage.Format.Format_ARGB32_Premultiplied
        )
        image.setDevicePixelRatio(dpr)
        image.fill(self._background)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        source = QRectF(i0 * TILE_PX / scale, j0 * TILE_PX / scale, width / scale, height / scale)
        self._plan.render(
            painter, QRectF(0, 0, width, height), source, Qt.AspectRatioMode.IgnoreAspectRatio
        )
        painter.end()
        for i, j in missing:
            piece = image.copy((i - i0) * side, (j - j0) * side, side, side)
            tile = QPixmap.fromImage(piece)
            tile.setDevicePixelRatio(dpr)
            self._tiles[(key, dpr_key, i, j)] = tile
            self.rendered += 1

    def _trim(self, keep: int) -> None:
        """Drop the least recently drawn tiles beyond the budget (never this frame's)."""
        limit = max(MAX_TILES, keep)
        while len(self._tiles) > limit:
            self._tiles.popitem(last=False)
