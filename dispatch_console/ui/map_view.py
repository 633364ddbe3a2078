"""The floor plan with its camera pins; it draws what it is given and reports clicks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QFont, QMouseEvent, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPolygonItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from dispatch_console.domain.models import Camera, Floor, Room
from dispatch_console.domain.policy import COMMON_AREAS
from dispatch_console.floorplan.geometry import label_point

from . import theme

CAMERA_ID = 0  # QGraphicsItem data key holding a pin's camera id
PIN_RADIUS_M = 1.1


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


def _scaled(point: tuple[float, float]) -> QPointF:
    return QPointF(point[0] * theme.PIXELS_PER_METRE, point[1] * theme.PIXELS_PER_METRE)


class FloorPlanView(QGraphicsView):
    """Signals ``camera_clicked(camera_id)`` when a pin is clicked."""

    camera_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QBrush(Qt.GlobalColor.white))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setMinimumSize(420, 300)
        self._pins: dict[str, QGraphicsEllipseItem] = {}
        self._wedges: dict[str, QGraphicsPathItem] = {}
        self._cameras: dict[str, Camera] = {}
        self._states: dict[str, PinState] = {}
        self.floor: Floor | None = None

    def show_floor(self, floor: Floor, pins: dict[str, PinState]) -> None:
        scene = self.scene()
        scene.clear()
        self._pins.clear()
        self._wedges.clear()
        self._states.clear()
        self._cameras = {c.id: c for c in floor.cameras}
        self.floor = floor
        for room in floor.rooms:
            self._add_room(scene, room)
        for camera in floor.cameras:
            self._add_camera(scene, camera, pins.get(camera.id))
        margin = 2 * theme.PIXELS_PER_METRE
        scene.setSceneRect(
            QRectF(
                -margin,
                -margin,
                floor.width_m * theme.PIXELS_PER_METRE + 2 * margin,
                floor.height_m * theme.PIXELS_PER_METRE + 2 * margin,
            )
        )
        self.fit()

    def set_pins(self, pins: dict[str, PinState]) -> None:
        for camera_id, state in pins.items():
            pin = self._pins.get(camera_id)
            if pin is not None:
                self._style_pin(pin, self._wedges[camera_id], self._cameras[camera_id], state)

    def pin_state(self, camera_id: str) -> PinState:
        """How a pin is drawn now, and the reason its tooltip gives."""
        return self._states[camera_id]

    def pin_position(self, camera_id: str) -> QPointF:
        """Where a pin is, in viewport coordinates (for tests and the benchmark)."""
        return QPointF(self.mapFromScene(self._pins[camera_id].rect().center()))

    def fit(self) -> None:
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.fit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            for item in self.items(event.position().toPoint()):
                camera_id = item.data(CAMERA_ID)
                if isinstance(camera_id, str):
                    self.camera_clicked.emit(camera_id)
                    event.accept()
                    return
        super().mousePressEvent(event)

    def _add_room(self, scene: QGraphicsScene, room: Room) -> None:
        polygon = QPolygonF([_scaled(p) for p in room.outline])
        item = QGraphicsPolygonItem(polygon)
        private = room.kind not in COMMON_AREAS
        fill = QBrush(theme.PRIVATE_FILL if private else theme.ROOM_FILL[room.kind])
        if private:
            fill.setStyle(Qt.BrushStyle.BDiagPattern)
        item.setBrush(fill)
        item.setPen(QPen(theme.WALL, 2))
        item.setToolTip(f"{room.name} ({room.kind.value.replace('_', ' ')})")
        scene.addItem(item)
        label = QGraphicsSimpleTextItem(room.name)
        font = QFont()
        font.setPointSizeF(9)
        label.setFont(font)
        label.setBrush(QBrush(theme.ROOM_TEXT))
        x, y = label_point(room)
        rect = label.boundingRect()
        if rect.width() > polygon.boundingRect().width() - 4:
            label.setText(room.name if len(room.name) <= 6 else "…")  # name stays in the tooltip
            rect = label.boundingRect()
        label.setPos(_scaled((x, y)) - QPointF(rect.width() / 2, rect.height() / 2))
        scene.addItem(label)

    def _add_camera(self, scene: QGraphicsScene, camera: Camera, state: PinState | None) -> None:
        centre = _scaled(camera.position)
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
        scene.addItem(wedge)
        r = PIN_RADIUS_M * theme.PIXELS_PER_METRE
        pin = QGraphicsEllipseItem(centre.x() - r, centre.y() - r, 2 * r, 2 * r)
        pin.setData(CAMERA_ID, camera.id)
        pin.setZValue(2)
        pin.setCursor(Qt.CursorShape.PointingHandCursor)
        pin.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, False)
        scene.addItem(pin)
        self._pins[camera.id] = pin
        self._wedges[camera.id] = wedge
        self._style_pin(pin, wedge, camera, state or PinState(PinLook.LOCKED, ""))

    def _style_pin(
        self,
        pin: QGraphicsEllipseItem,
        wedge: QGraphicsPathItem,
        camera: Camera,
        state: PinState,
    ) -> None:
        self._states[camera.id] = state
        colour = _PIN_COLOUR[state.look]
        pin.setBrush(QBrush(colour))
        pin.setPen(QPen(Qt.GlobalColor.white, 2))
        shade = colour.lighter(130)
        shade.setAlpha(55 if state.look in (PinLook.UNLOCKED, PinLook.OPEN) else 30)
        wedge.setBrush(QBrush(shade))
        tip = f"<b>{camera.name}</b>"
        if state.reason:
            tip += f"<br>{state.reason}"
        pin.setToolTip(tip)
