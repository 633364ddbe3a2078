"""Declare an emergency, and see at a glance whether live video is open and until when."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dispatch_console.domain.models import EmergencyType

from . import theme


@dataclass(frozen=True)
class Banner:
    """What the banner says; built by the controller from the access state."""

    text: str
    tone: str  # "emergency", "granted" or "neutral"


_TONES = {"emergency": theme.EMERGENCY, "granted": theme.GRANTED, "neutral": theme.NEUTRAL}


class EmergencyPanel(QWidget):
    """Signals ``declare_requested(school_id, type, threat_basis)``; ``location_cleared``
    when the declarer drops the spot chosen on the map, ``open_covering_requested`` for
    "Open cameras covering the location" (ui/emergency_spot decides what they mean)."""

    declare_requested = Signal(str, str, str)
    location_cleared = Signal()
    open_covering_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.banner = QLabel(self)
        self.banner.setWordWrap(True)
        self.banner.setMinimumHeight(34)
        self.kind = QComboBox(self)
        for kind in EmergencyType:
            self.kind.addItem(kind.label, kind.value)
        self.basis = QLineEdit(self)
        self.basis.setPlaceholderText("Threat basis (recorded by the district), e.g. 911 call")
        self.declare = QPushButton("Declare emergency", self)
        self.declare.setStyleSheet(
            f"QPushButton {{ background: {theme.EMERGENCY.name()}; color: white;"
            " font-weight: bold; padding: 5px 12px; }"
        )
        self.declare.clicked.connect(self._on_declare)
        # A district declarer names the police agency it declares for (offer_declare).
        self.agency = QComboBox(self)
        self.agency.setToolTip("The police agency the district declares this emergency for")
        # Compact: the threat basis, not the agency's full name, needs the room.
        self.agency.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.agency.setMinimumContentsLength(14)
        self.agency.hide()
        self._for = QLabel("For:", self)
        self._for.hide()
        self._label = QLabel("Emergency:", self)
        row = QHBoxLayout()
        row.addWidget(self._label)
        row.addWidget(self.kind)
        row.addWidget(self.basis, 1)
        row.addWidget(self._for)
        row.addWidget(self.agency)
        row.addWidget(self.declare)
        # The spot chosen with the map's "Declare emergency here…", sent with the declare.
        self.location = QLabel(self)
        self.location.setAccessibleName("Location declared with the emergency")
        self.clear_location = QPushButton("✕ Clear location", self)
        self.clear_location.setAccessibleName("Clear the emergency's location")
        self.clear_location.clicked.connect(self.location_cleared)
        # The active emergency's location: the cameras that see it, opened on request only.
        self.open_covering = QPushButton("Open cameras covering the location", self)
        self.open_covering.setAccessibleName("Open cameras covering the emergency's location")
        self.open_covering.clicked.connect(self.open_covering_requested)
        spot_row = QHBoxLayout()
        spot_row.addWidget(self.location)
        spot_row.addWidget(self.clear_location)
        spot_row.addStretch(1)
        spot_row.addWidget(self.open_covering)
        self.show_location(None)
        self.offer_covering(None)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addLayout(row)
        layout.addLayout(spot_row)
        self._school_id = ""
        self.show_banner(Banner("Loading…", "neutral"))

    def set_school(self, school_id: str, school_name: str) -> None:
        self._school_id = school_id
        self.declare.setToolTip(f"Declare an emergency at {school_name}")

    def offer_declare(self, shown: bool, label: str, *, on_behalf: bool, blocked: str) -> None:
        """Show the declare controls only where the policy lets this user declare, and
        name the agency declared for (the rule: ``domain.district_desk.declare_offer``)."""
        for widget in (self._label, self.kind, self.basis, self.declare):
            widget.setVisible(shown)
        self._for.setVisible(shown and on_behalf)
        self.agency.setVisible(shown and on_behalf)
        self.declare.setText(label or "Declare emergency")
        self.declare.setEnabled(not blocked)
        if blocked:
            self.declare.setToolTip(blocked)

    def chosen_agency(self) -> str | None:
        """The police agency a district declarer chose; None when declaring for one's own."""
        agency = self.agency.currentData()
        return agency if self.agency.isVisibleTo(self) and isinstance(agency, str) else None

    def show_location(self, text: str | None) -> None:
        """The declare row's location ("Location: Main Entrance Lobby (1st floor)"), or none."""
        self.location.setText(f"Location: {text}" if text else "")
        self.location.setVisible(bool(text))
        self.clear_location.setVisible(bool(text))

    def offer_covering(self, label: str | None, *, enabled: bool = True, tip: str = "") -> None:
        """The "Open cameras covering the location" button: hidden with ``None``."""
        self.open_covering.setVisible(label is not None)
        self.open_covering.setText(label or "")
        self.open_covering.setEnabled(enabled)
        self.open_covering.setToolTip(tip)

    def show_banner(self, banner: Banner) -> None:
        colour = _TONES[banner.tone]
        self.banner.setText(banner.text)
        self.banner.setStyleSheet(
            f"QLabel {{ background: {colour.name()}; color: white; padding: 6px 10px;"
            " font-weight: bold; border-radius: 3px; }"
        )

    def _on_declare(self) -> None:
        self.declare_requested.emit(self._school_id, self.kind.currentData(), self.basis.text())
