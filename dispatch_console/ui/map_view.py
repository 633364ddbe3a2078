"""The floor plan with its camera pins; it draws what it is given and reports clicks.

Pins show their state by shape as well as colour (a dispatcher may be colour-blind, and a
screen in a bright room washes colours out): available is a plain dot, locked a square,
never-shared a barred circle, open in the grid a ringed dot, offline a triangle. Each
camera's shaded area is what it sees with walls considered, when the caller provides it.
A click on an empty spot, or "Show cameras covering here" in the context menu, reports the
spot in plan metres; which cameras cover it is decided elsewhere.

The static plan (rooms, walls, doors, labels, visible areas) is a scene of its own, drawn
as cached tiles under the live scene of pins and overlays (``plan_tiles``): panning and
zooming copy pixels instead of rasterising translucent polygons on every frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QContextMenuEvent,
    QDrag,
    QFont,
    QHelpEvent,
    QImage,
    QImageReader,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
    QTransform,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsPolygonItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QMenu,
    QToolTip,
    QWidget,
)

from dispatch_console.domain.desk_keys import numbered_cameras
from dispatch_console.domain.grid_layout import CAMERA_MIME
from dispatch_console.domain.models import Camera, Floor, Point, Room
from dispatch_console.domain.policy import is_private_room
from dispatch_console.floorplan.geometry import label_point

from . import theme
from .plan_tiles import TILE_PX, PlanTiles, level_key

CAMERA_ID = 0  # QGraphicsItem data key holding a pin's camera id
SPOT = 1  # data key holding the marked spot, in metres
PIN_RADIUS_M = 1.1
# A press and release closer than this (pixels) is a click on the spot, not a drag.
CLICK_SLOP_PX = 4
ZOOM_STEP = 1.25
COVERING_ACTION = "Show cameras covering here"
DECLARE_HERE_ACTION = "Declare emergency here…"
# The crisp plan is rendered this long after the zoom stops changing; until then the
# nearest zoom level already rendered is scaled, so a wheel spin stays smooth.
SETTLE_MS = 120
# Over a floor's own drawing, room fills let it show through.
FILL_ALPHA_OVER_DRAWING = 120
# A background drawing is rasterised at most this many pixels on its long side.
MAX_DRAWING_PX = 4096


class PinLook(Enum):
    UNLOCKED = "unlocked"
    LOCKED = "locked"  # locked now, may open under an emergency grant
    NEVER = "never"  # can never be shown to this user (a private room, say)
    OPEN = "open"  # its feed is in the grid
    OFFLINE = "offline"  # allowed, but the gateway cannot reach the camera (reason says why)


@dataclass(frozen=True)
class PinState:
    look: PinLook
    reason: str


_PIN_COLOUR = {
    PinLook.UNLOCKED: theme.PIN_UNLOCKED,
    PinLook.LOCKED: theme.PIN_LOCKED,
    PinLook.NEVER: theme.PIN_NEVER,
    PinLook.OPEN: theme.PIN_OPEN,
    PinLook.OFFLINE: theme.PIN_OFFLINE,
}


def _pin_shape(look: PinLook, r: float) -> QPainterPath:
    """The pin's outline around (0, 0): one distinct shape per state."""
    path = QPainterPath()
    if look is PinLook.LOCKED:
        path.addRect(QRectF(-r * 0.9, -r * 0.9, 1.8 * r, 1.8 * r))
    elif look is PinLook.OFFLINE:
        path.addPolygon(QPolygonF([QPointF(0, -r * 1.2), QPointF(r * 1.1, r * 0.8),
                                   QPointF(-r * 1.1, r * 0.8), QPointF(0, -r * 1.2)]))  # fmt: skip
    elif look is PinLook.NEVER:
        path.addEllipse(QPointF(0, 0), r, r)
        bar = r * 0.3
        path.addPolygon(QPolygonF([QPointF(-r * 0.7, -bar), QPointF(r * 0.7, -bar),
                                   QPointF(r * 0.7, bar), QPointF(-r * 0.7, bar)]))  # fmt: skip
    elif look is PinLook.OPEN:
        path.addEllipse(QPointF(0, 0), r * 1.25, r * 1.25)
        path.addEllipse(QPointF(0, 0), r * 0.75, r * 0.75)
        path.addEllipse(QPointF(0, 0), r * 0.45, r * 0.45)
    else:
        path.addEllipse(QPointF(0, 0), r, r)
    return path


def _scaled(point: tuple[float, float]) -> QPointF:
    return QPointF(point[0] * theme.PIXELS_PER_METRE, point[1] * theme.PIXELS_PER_METRE)


class FloorPlanView(QGraphicsView):
    """Signals ``camera_clicked(camera_id)`` for a pin, ``spot_chosen(x_m, y_m)`` for a spot."""

    camera_clicked = Signal(str)
    spot_chosen = Signal(float, float)
    # "Declare emergency here…" (offered where the user may declare: ``offer_declare_here``).
    declare_here = Signal(float, float)
    # The live scene was rebuilt (another floor, a theme, a drawing): overlays draw again.
    plan_redrawn = Signal()
    # Where the pointer is on the plan, in metres: a district placing rooms and cameras
    # on a calibrated drawing reads their coordinates off the map.
    pointer_moved = Signal(float, float)

    def __init__(self, parent: QWidget | None = None, *, cache_plan: bool = True) -> None:
        """``cache_plan=False`` draws the plan's vectors on every repaint (the benchmark's
        and the tests' reference for what the tiles must look like)."""
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.viewport().setMouseTracking(True)  # pointer_moved while no button is held
        # The plan's paper follows the theme (``restyle`` when the palette changes).
        self._paper = QColor(theme.active().plan.paper)
        self.setBackgroundBrush(QBrush(self._paper))
        # The static plan, drawn under the live scene (pins, spot marker) by drawBackground.
        self._plan = QGraphicsScene(self)
        self._cache_plan = cache_plan
        self.tiles = PlanTiles(self._plan, self._paper)
        # What the floor was shown with, so a theme change can draw it again.
        self._areas: Mapping[str, Sequence[Point]] | None = None
        self._background_path: Path | None = None
        self._settled_level: int | None = None
        self._crisp_level: int | None = None  # the zoom level last drawn crisp
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(SETTLE_MS)
        self._settle_timer.timeout.connect(self.settle)
        # Once the crisp level is on screen, the tiles around it are rendered while idle.
        self._prefetch_timer = QTimer(self)
        self._prefetch_timer.setSingleShot(True)
        self._prefetch_timer.setInterval(30)
        self._prefetch_timer.timeout.connect(self.prefetch)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setMinimumSize(420, 300)
        self._pins: dict[str, QGraphicsPathItem] = {}
        self._wedges: dict[str, QGraphicsPathItem] = {}
        self._cameras: dict[str, Camera] = {}
        self._states: dict[str, PinState] = {}
        self._numbers: dict[str, int] = {}
        self.floor: Floor | None = None
        # Why the floor's background drawing is not shown ("" when shown or none exists).
        self.background_note = ""
        self._drawing: QGraphicsPixmapItem | None = None
        self._press: QPoint | None = None
        self._pin_press: tuple[str, QPoint] | None = None  # (camera id, where) until release
        self._spot_marker: QGraphicsPathItem | None = None
        self._zoom = 1.0
        self.offer_declare_here = False

    def show_floor(
        self,
        floor: Floor,
        pins: dict[str, PinState],
        areas: Mapping[str, Sequence[Point]] | None = None,
        background: Path | None = None,
    ) -> None:
        """Draw a floor; ``areas`` are the cameras' visible outlines (else plain cones).

        ``background`` is the floor's drawing on this machine, already vetted
        (``floorplan.backgrounds.drawable_image``); it is placed by the floor's bounds.
        """
        scene = self.scene()
        scene.clear()
        self._plan.clear()
        self.tiles.clear()
        self._pins.clear()
        self._wedges.clear()
        self._states.clear()
        self._spot_marker = None
        self._cameras = {c.id: c for c in floor.cameras}
        # Ctrl+n opens the n-th camera: its number is printed beside its pin.
        self._numbers = {c.id: n for n, c in enumerate(numbered_cameras(floor), 1)}
        self.floor = floor
        self._areas, self._background_path = areas, background
        self._drawing = None
        self.background_note = ""
        if background is not None:
            self.background_note = self._add_drawing(floor, background)
        for room in floor.rooms:
            self._add_room(self._plan, room)
        self._add_walls(self._plan, floor)
        for camera in floor.cameras:
            area = areas.get(camera.id) if areas is not None else None
            self._add_camera(scene, camera, pins.get(camera.id), area)
        margin = 2 * theme.PIXELS_PER_METRE
        bounds = QRectF(
            -margin,
            -margin,
            floor.width_m * theme.PIXELS_PER_METRE + 2 * margin,
            floor.height_m * theme.PIXELS_PER_METRE + 2 * margin,
        )
        scene.setSceneRect(bounds)
        self._plan.setSceneRect(bounds)
        self.fit()
        self.viewport().update()
        self.plan_redrawn.emit()

    def restyle(self) -> None:
        """Draw the plan again in the active theme's colours, where the view was.

        Rooms, walls and the paper are baked into the cached tiles, so a theme change
        clears them; the zoom and scroll position are kept.
        """
        paper = QColor(theme.active().plan.paper)
        if paper == self._paper:
            return
        self._paper = paper
        self.setBackgroundBrush(QBrush(paper))
        self.tiles.set_background(paper)
        floor = self.floor
        if floor is not None:
            transform, zoom = self.transform(), self._zoom
            centre = self.mapToScene(self.viewport().rect().center())
            self.show_floor(floor, dict(self._states), self._areas, self._background_path)
            self.setTransform(transform)
            self._zoom = zoom
            self.centerOn(centre)
        self.viewport().update()

    def show_drawing(self, floor: Floor, background: Path) -> None:
        """Put a drawing that arrived later (downloaded) under the floor, where the view was.

        Ignored when another floor is shown by now: the dispatcher has moved on.
        """
        if self.floor is not floor or self._background_path == background:
            return
        transform, zoom = self.transform(), self._zoom
        centre = self.mapToScene(self.viewport().rect().center())
        marker = self._spot_marker.data(SPOT) if self._spot_marker is not None else None
        self.show_floor(floor, dict(self._states), self._areas, background)
        self.setTransform(transform)
        self._zoom = zoom
        self.centerOn(centre)
        if isinstance(marker, tuple):
            self.mark_spot(marker)

    def changeEvent(self, event: QEvent) -> None:
        """The application's palette changed: the theme changed, so does the plan."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.restyle()

    def set_pins(self, pins: dict[str, PinState]) -> None:
        for camera_id, state in pins.items():
            pin = self._pins.get(camera_id)
            if pin is not None:
                self._style_pin(pin, self._wedges[camera_id], self._cameras[camera_id], state)

    def plan_items(self) -> list[QGraphicsItem]:
        """The static plan's items (rooms, labels, walls, doors, visible areas)."""
        return self._plan.items()

    def settle(self) -> None:
        """Render the plan crisp at the current zoom (the timer calls it once zooming stops)."""
        self._settled_level = level_key(self.transform().m11())
        self.viewport().update()

    def prefetch(self) -> None:
        """Render the plan one tile beyond each edge of the view, for the next pan."""
        if self.floor is None or not self._cache_plan:
            return
        transform = self.viewportTransform()
        if self._crisp_level != level_key(transform.m11()):
            return  # zoomed since: the next crisp frame schedules its own
        margin = TILE_PX
        self.tiles.prefetch(
            transform.m11(),
            QPoint(round(transform.dx()), round(transform.dy())),
            self.viewport().rect().adjusted(-margin, -margin, margin, margin),
            self.viewport().devicePixelRatioF(),
        )

    def drawBackground(self, painter: QPainter, exposed: QRectF | QRect) -> None:
        """Paper, then the static plan: cached tiles, or its vectors when not caching."""
        rect = QRectF(exposed)
        transform = self.viewportTransform()
        device = transform.mapRect(rect).toAlignedRect() & self.viewport().rect()
        painter.save()
        painter.resetTransform()
        painter.fillRect(device, self._paper)
        if self.floor is not None and self._cache_plan:
            scale = transform.m11()
            origin = QPoint(round(transform.dx()), round(transform.dy()))
            crisp = self.tiles.draw(
                painter,
                scale,
                origin,
                device,
                self.viewport().devicePixelRatioF(),
                exact=self._settled_level == level_key(scale),
            )
            self._crisp_level = level_key(scale) if crisp else None
            (self._prefetch_timer if crisp else self._settle_timer).start()
        painter.restore()
        if self.floor is not None and not self._cache_plan:
            self._plan.render(painter, rect, rect)

    def viewportEvent(self, event: QEvent) -> bool:
        """Tooltips of the static plan (rooms, doors) when no pin is under the pointer."""
        if (
            event.type() == QEvent.Type.ToolTip
            and isinstance(event, QHelpEvent)
            and not any(item.toolTip() for item in self.items(event.pos()))
        ):
            where = self.mapToScene(event.pos())
            tips = [i.toolTip() for i in self._plan.items(where) if i.toolTip()]
            if tips:
                QToolTip.showText(event.globalPos(), tips[0], self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    def pin_state(self, camera_id: str) -> PinState:
        """How a pin is drawn now, and the reason its tooltip gives."""
        return self._states[camera_id]

    def pin_position(self, camera_id: str) -> QPointF:
        """Where a pin is, in viewport coordinates (for tests and the benchmark)."""
        return QPointF(self.mapFromScene(self._pins[camera_id].pos()))

    def pin_outline(self, camera_id: str) -> QPainterPath:
        """The shape a pin is drawn with now (its state shows in the shape, not only colour)."""
        return self._pins[camera_id].path()

    def area_outline(self, camera_id: str) -> QPainterPath:
        """The shaded area drawn for a camera (its visible area, in scene units)."""
        return self._wedges[camera_id].path()

    def to_plan(self, viewport_point: QPoint) -> Point:
        """Where a viewport pixel lies on the plan, in metres."""
        scene = self.mapToScene(viewport_point)
        return scene.x() / theme.PIXELS_PER_METRE, scene.y() / theme.PIXELS_PER_METRE

    def fit(self) -> None:
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._zoom = 1.0

    def zoom_by(self, factor: float) -> None:
        """Zoom around the view's centre, between the whole floor and 12× closer."""
        wanted = min(max(self._zoom * factor, 1.0), 12.0)
        if wanted == 1.0:
            self.fit()
            return
        self.scale(wanted / self._zoom, wanted / self._zoom)
        self._zoom = wanted

    def centre_on_camera(self, camera_id: str) -> None:
        pin = self._pins.get(camera_id)
        if pin is not None:
            if self._zoom < 2.5:
                self.zoom_by(2.5 / self._zoom)
            self.centerOn(pin)

    def mark_spot(self, spot: Point) -> None:
        """A crosshair where the dispatcher asked "who sees this"."""
        scene = self.scene()
        if self._spot_marker is not None:
            scene.removeItem(self._spot_marker)
        centre = _scaled(spot)
        r = PIN_RADIUS_M * theme.PIXELS_PER_METRE * 1.6
        path = QPainterPath()
        path.addEllipse(centre, r, r)
        path.moveTo(centre.x() - 2 * r, centre.y())
        path.lineTo(centre.x() + 2 * r, centre.y())
        path.moveTo(centre.x(), centre.y() - 2 * r)
        path.lineTo(centre.x(), centre.y() + 2 * r)
        marker = QGraphicsPathItem(path)
        marker.setData(SPOT, (spot[0], spot[1]))
        marker.setPen(QPen(theme.EMERGENCY, 3))
        marker.setZValue(5)
        scene.addItem(marker)
        self._spot_marker = marker

    def wheelEvent(self, event: object) -> None:
        delta = event.angleDelta().y()  # type: ignore[attr-defined]
        if delta:
            self.zoom_by(ZOOM_STEP if delta > 0 else 1 / ZOOM_STEP)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(1 / ZOOM_STEP)
        elif key in (Qt.Key.Key_0, Qt.Key.Key_F):
            self.fit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def context_menu(self, viewport_point: QPoint) -> QMenu:
        """The right-click menu for a spot (built separately so tests can trigger it)."""
        menu = QMenu(self)
        x, y = self.to_plan(viewport_point)
        action = menu.addAction(COVERING_ACTION)
        action.triggered.connect(lambda: self.spot_chosen.emit(x, y))
        if self.offer_declare_here:
            declare = menu.addAction(DECLARE_HERE_ACTION)
            declare.triggered.connect(lambda: self.declare_here.emit(x, y))
        menu.addAction("Fit floor", self.fit)
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = self.context_menu(event.pos())
        menu.exec(event.globalPos())
        menu.deleteLater()

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self._zoom == 1.0:
            self.fit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._press = None
        self._pin_press = None
        if event.button() == Qt.MouseButton.LeftButton:
            for item in self.items(event.position().toPoint()):
                camera_id = item.data(CAMERA_ID)
                if isinstance(camera_id, str):
                    # A click on release; a drag onto a video tile opens it there.
                    self._pin_press = (camera_id, event.position().toPoint())
                    event.accept()
                    return
            self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.floor is not None:
            self.pointer_moved.emit(*self.to_plan(event.position().toPoint()))
        pin = self._pin_press
        if pin is None:
            super().mouseMoveEvent(event)
            return
        moved = event.position().toPoint() - pin[1]
        if moved.manhattanLength() >= QApplication.startDragDistance():
            self._pin_press = None
            drag = QDrag(self)
            drag.setMimeData(pin_drag_data(pin[0]))
            drag.exec(Qt.DropAction.CopyAction)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        pin, self._pin_press = self._pin_press, None
        if pin is not None and event.button() == Qt.MouseButton.LeftButton:
            self.camera_clicked.emit(pin[0])
            event.accept()
            return
        press, self._press = self._press, None
        super().mouseReleaseEvent(event)
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            return
        moved = event.position().toPoint() - press
        if abs(moved.x()) + abs(moved.y()) <= CLICK_SLOP_PX and self.floor is not None:
            self.spot_chosen.emit(*self.to_plan(press))

    def _add_room(self, scene: QGraphicsScene, room: Room) -> None:
        polygon = QPolygonF([_scaled(p) for p in room.outline])
        item = QGraphicsPolygonItem(polygon)
        private = is_private_room(room.kind)
        plan = theme.active().plan
        colour = QColor(plan.private_fill if private else plan.room_fill[room.kind])
        if self._drawing is not None:
            colour.setAlpha(FILL_ALPHA_OVER_DRAWING)
        fill = QBrush(colour)
        if private:
            fill.setStyle(Qt.BrushStyle.BDiagPattern)
        item.setBrush(fill)
        item.setPen(QPen(QColor(plan.wall), 2))
        item.setToolTip(f"{room.name} ({room.kind.value.replace('_', ' ')})")
        scene.addItem(item)
        label = QGraphicsSimpleTextItem(room.name)
        label.setBrush(QBrush(QColor(plan.room_text)))
        _fit_label(label, room.name, polygon.boundingRect().width() - 4)
        x, y = label_point(room)
        rect = label.boundingRect()
        label.setPos(_scaled((x, y)) - QPointF(rect.width() / 2, rect.height() / 2))
        scene.addItem(label)

    def _add_drawing(self, floor: Floor, path: Path) -> str:
        """Place the floor's drawing under the rooms; returns why not, if it cannot be read."""
        if floor.background is None:
            return ""
        x0, y0, x1, y1 = floor.background.bounds
        width = (x1 - x0) * theme.PIXELS_PER_METRE
        height = (y1 - y0) * theme.PIXELS_PER_METRE
        placement = floor.background.placement
        units = 1.0  # drawing units (pixels, an SVG's viewBox units) per image pixel
        if path.suffix.lower() == ".svg":
            renderer = QSvgRenderer(str(path))
            if not renderer.isValid():
                return f"{path.name}: the SVG could not be drawn"
            if placement is not None:  # calibrated in viewBox units: rasterise those
                width, height = renderer.viewBoxF().width(), renderer.viewBoxF().height()
            side = MAX_DRAWING_PX / max(width, height)
            units = 1 / side
            image = QImage(round(width * side), round(height * side), QImage.Format.Format_ARGB32)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            renderer.render(painter)
            painter.end()
        else:
            reader = QImageReader(str(path))
            image = reader.read()
            if image.isNull():
                return f"{path.name}: {reader.errorString()}"
        item = QGraphicsPixmapItem(QPixmap.fromImage(image))
        item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        if placement is None:
            item.setTransform(QTransform.fromScale(width / image.width(), height / image.height()))
            item.setPos(_scaled((x0, y0)))
        else:  # two-point calibration: scaled, rotated and moved, never stretched
            m = theme.PIXELS_PER_METRE
            a, b = placement.a * m * units, placement.b * m * units
            item.setTransform(QTransform(a, b, -b, a, placement.tx * m, placement.ty * m))
        item.setZValue(-1)
        self._plan.addItem(item)
        self._drawing = item
        return ""

    def _add_walls(self, scene: QGraphicsScene, floor: Floor) -> None:
        pen = QPen(QColor(theme.active().plan.wall), 3)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        for wall in floor.walls:
            path = QPainterPath(_scaled(wall.path[0]))
            for point in wall.path[1:]:
                path.lineTo(_scaled(point))
            item = QGraphicsPathItem(path)
            item.setPen(pen)
            item.setZValue(0.5)
            scene.addItem(item)
        gap = QPen(self._paper, 4)  # a door is a gap in the wall: paper shows through
        gap.setCapStyle(Qt.PenCapStyle.FlatCap)
        for opening in floor.openings:
            line = QGraphicsLineItem(
                _scaled(opening.ends[0]).x(), _scaled(opening.ends[0]).y(),
                _scaled(opening.ends[1]).x(), _scaled(opening.ends[1]).y(),
            )  # fmt: skip
            line.setPen(gap)
            line.setZValue(0.6)
            line.setToolTip(f"{opening.kind.capitalize()} {opening.id}")
            scene.addItem(line)

    def _add_camera(
        self,
        scene: QGraphicsScene,
        camera: Camera,
        state: PinState | None,
        area: Sequence[Point] | None,
    ) -> None:
        centre = _scaled(camera.position)
        if area is not None:
            path = QPainterPath()
            if len(area) >= 3:
                path.addPolygon(QPolygonF([_scaled(p) for p in area]))
                path.closeSubpath()
        else:
            reach = camera.range_m * theme.PIXELS_PER_METRE
            path = QPainterPath(centre)
            # Qt angles run counter-clockwise with y up; plan headings run clockwise (y down).
            path.arcTo(
                QRectF(centre.x() - reach, centre.y() - reach, 2 * reach, 2 * reach),
                -camera.heading_deg - camera.fov_deg / 2,
                camera.fov_deg,
            )
            path.closeSubpath()
        wedge = QGraphicsPathItem(path)
        wedge.setPen(QPen(Qt.PenStyle.NoPen))
        wedge.setZValue(1)
        self._plan.addItem(wedge)
        pin = QGraphicsPathItem()
        pin.setPos(centre)
        pin.setData(CAMERA_ID, camera.id)
        pin.setZValue(2)
        pin.setCursor(Qt.CursorShape.PointingHandCursor)
        pin.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, False)
        scene.addItem(pin)
        number = self._numbers.get(camera.id)
        if number is not None:
            # A child of the pin: it moves and scales with it, always beside it.
            label = QGraphicsSimpleTextItem(str(number), pin)
            font = QFont()
            font.setPointSizeF(10)
            font.setBold(True)
            label.setFont(font)
            label.setBrush(QBrush(QColor(theme.active().plan.room_text)))
            label.setPos(
                PIN_RADIUS_M * theme.PIXELS_PER_METRE * 1.1, -label.boundingRect().height()
            )
        self._pins[camera.id] = pin
        self._wedges[camera.id] = wedge
        self._style_pin(pin, wedge, camera, state or PinState(PinLook.LOCKED, ""))

    def _style_pin(
        self,
        pin: QGraphicsPathItem,
        wedge: QGraphicsPathItem,
        camera: Camera,
        state: PinState,
    ) -> None:
        self._states[camera.id] = state
        colour = _PIN_COLOUR[state.look]
        pin.setPath(_pin_shape(state.look, PIN_RADIUS_M * theme.PIXELS_PER_METRE))
        pin.setBrush(QBrush(colour))
        pin.setPen(QPen(Qt.GlobalColor.white, 2))
        # The shading is baked into the cached plan tiles, so it follows only what changes
        # rarely (a grant unlocking the camera), never whether its feed is open: opening a
        # camera once cleared every tile, and re-rendering them (10 ms and more on the GUI
        # thread) sat in the middle of the click-to-picture path. The pin shows "open".
        shade_look = PinLook.UNLOCKED if state.look is PinLook.OPEN else state.look
        shade = _PIN_COLOUR[shade_look].lighter(130)
        shade.setAlpha(55 if shade_look is PinLook.UNLOCKED else 30)
        if wedge.brush().color() != shade:
            wedge.setBrush(QBrush(shade))
            # The shading is part of the cached plan: it must be rendered again.
            self.tiles.clear()
            self.viewport().update()
        tip = f"<b>{camera.display_name}</b>"
        if state.reason:
            tip += f"<br>{state.reason}"
        if camera.id in self._numbers:
            tip += f"<br>Ctrl+{self._numbers[camera.id]} opens it"
        pin.setToolTip(tip)


def _fit_label(label: QGraphicsSimpleTextItem, name: str, width: float) -> None:
    """Fit a room's name in its room: wrap at a space, then shrink; never cut it to "…".

    Labels are scene items, so a name shrunk to fit a small room grows legible on zoom.
    """
    font = QFont()
    font.setPointSizeF(9)
    label.setFont(font)
    if label.boundingRect().width() <= width:
        return
    words = name.split()
    if len(words) > 1:
        best = min(
            range(1, len(words)),
            key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))),
        )
        label.setText(" ".join(words[:best]) + "\n" + " ".join(words[best:]))
    size = 9.0
    while label.boundingRect().width() > width and size > 2.0:
        size *= 0.85
        font.setPointSizeF(size)
        label.setFont(font)


def pin_drag_data(camera_id: str) -> QMimeData:
    """What a pin carries when dragged onto a video tile: its camera's id."""
    data = QMimeData()
    data.setData(CAMERA_MIME, camera_id.encode())
    data.setText(camera_id)
    return data
