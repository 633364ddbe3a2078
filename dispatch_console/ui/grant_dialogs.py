"""The district desk's two small forms: what a grant covers and for how long, and the
review of a break-glass grant.

Thin views: the controller passes in the choices (the cameras the policy lets police
see) and reads back the answer; the server checks the terms again and says why not.
Both open window-modal with ``open()``, never ``exec()``: a nested event loop would
stall the asyncio work that shares Qt's loop (live updates, audit delivery).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QRadioButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class BuildingChoice:
    building_id: str
    name: str
    cameras: tuple[tuple[str, str], ...]  # (camera id, name): the ones police may see


@dataclass(frozen=True)
class GrantTerms:
    minutes: int
    buildings: tuple[str, ...]  # both empty: the whole school
    cameras: tuple[str, ...]


class GrantTermsDialog(QDialog):
    """Whole school, or checked buildings and cameras; and the minutes the grant lasts."""

    def __init__(
        self,
        school_name: str,
        choices: Sequence[BuildingChoice],
        parent: QWidget | None = None,
        *,
        default_minutes: int = 60,
        min_minutes: int = 5,
        max_minutes: int = 720,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Approve police access — {school_name}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.whole = QRadioButton("The whole school (every camera police may see)", self)
        self.some = QRadioButton("Only the buildings and cameras checked below", self)
        self.whole.setChecked(True)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderHidden(True)
        self.tree.setEnabled(False)
        # (building item, building id, [(camera item, camera id)]), in the tree's order.
        self._items: list[tuple[QTreeWidgetItem, str, list[tuple[QTreeWidgetItem, str]]]] = []
        for choice in choices:
            building = QTreeWidgetItem(self.tree, [choice.name])
            building.setFlags(building.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            building.setCheckState(0, Qt.CheckState.Unchecked)
            cameras: list[tuple[QTreeWidgetItem, str]] = []
            for camera_id, name in choice.cameras:
                camera = QTreeWidgetItem(building, [name])
                camera.setFlags(camera.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                camera.setCheckState(0, Qt.CheckState.Unchecked)
                cameras.append((camera, camera_id))
            self._items.append((building, choice.building_id, cameras))
        self.tree.expandAll()
        self.some.toggled.connect(self.tree.setEnabled)
        self.minutes = QSpinBox(self)
        self.minutes.setRange(min_minutes, max_minutes)
        self.minutes.setSingleStep(15)
        self.minutes.setValue(default_minutes)
        self.minutes.setSuffix(" min")
        self.problem = QLabel(self)
        self.problem.setStyleSheet("color: #a50e0e;")
        self.problem.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Approve")
        self.buttons.accepted.connect(self._accept_if_complete)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Police access for", self.minutes)
        layout = QVBoxLayout(self)
        layout.addWidget(self.whole)
        layout.addWidget(self.some)
        layout.addWidget(self.tree)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.resize(460, 480)

    def terms(self) -> GrantTerms:
        buildings: list[str] = []
        cameras: list[str] = []
        if self.some.isChecked():
            for building, building_id, camera_items in self._items:
                if building.checkState(0) == Qt.CheckState.Checked:
                    buildings.append(building_id)
                    continue  # the whole building: its cameras are in anyway
                cameras.extend(
                    camera_id
                    for camera, camera_id in camera_items
                    if camera.checkState(0) == Qt.CheckState.Checked
                )
        return GrantTerms(self.minutes.value(), tuple(buildings), tuple(cameras))

    def _accept_if_complete(self) -> None:
        terms = self.terms()
        if self.some.isChecked() and not terms.buildings and not terms.cameras:
            self.problem.setText("Check at least one building or camera, or grant the school.")
            self.problem.show()
            return
        self.accept()


class NoteDialog(QDialog):
    """A decision the district records in its own words: a review's finding, a denial's
    reason. The button stays disabled until there is something to record."""

    def __init__(
        self,
        title: str,
        description: str,
        placeholder: str,
        action: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        intro = QLabel(description, self)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        self.note = QPlainTextEdit(self)
        self.note.setPlaceholderText(placeholder)
        self.note.setAccessibleName(title)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(action)
        ok.setEnabled(False)
        self.note.textChanged.connect(lambda: ok.setEnabled(bool(self.text())))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self.resize(460, 260)

    def text(self) -> str:
        return self.note.toPlainText().strip()


def review_dialog(description: str, parent: QWidget | None = None) -> NoteDialog:
    return NoteDialog(
        "Review a break-glass grant",
        description,
        "What the review found (e.g. the 911 call log confirms an armed intruder).",
        "Record review",
        parent,
    )


def deny_dialog(description: str, parent: QWidget | None = None) -> NoteDialog:
    return NoteDialog(
        "Deny police access",
        description,
        "Why (the requesting dispatcher is shown this), e.g. officers on site report no threat.",
        "Deny access",
        parent,
    )
