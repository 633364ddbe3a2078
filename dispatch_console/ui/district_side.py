"""The district desk's side panel: break-glass grants to review, and the police agencies
holding access (each with "Revoke all of <agency>…", in two clicks).

Thin views: the presenter (``district_desk``) hands in the lines the domain wrote and
hears which button was used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from dispatch_console.domain.district_desk import ReviewItem

from .access_panel import CONFIRM_TIMEOUT_MS, ConfirmButton


class ReviewRow(QFrame):
    review_requested = Signal(str)

    def __init__(self, item: ReviewItem, parent: QWidget) -> None:
        super().__init__(parent)
        self.grant_id = item.grant_id
        self.setObjectName("reviewRow")
        self.setStyleSheet(
            "#reviewRow { border: 1px solid #d5d8dc; border-left: 4px solid #b26a00;"
            " border-radius: 3px; }"
        )
        self.headline = QLabel(self)
        self.headline.setStyleSheet("font-weight: bold;")
        self.detail = QLabel(self)
        for label in (self.headline, self.detail):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
        self.review = QPushButton("Review…", self)
        self.review.setToolTip("Record the district's review of this break-glass grant")
        self.review.setAccessibleName("Review break-glass grant")
        self.review.clicked.connect(lambda: self.review_requested.emit(self.grant_id))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 5, 8, 5)
        layout.setSpacing(2)
        layout.addWidget(self.headline)
        layout.addWidget(self.detail)
        layout.addWidget(self.review, 0, Qt.AlignmentFlag.AlignRight)
        self.show_item(item)

    def show_item(self, item: ReviewItem) -> None:
        self.headline.setText(item.headline)
        self.detail.setText(item.detail)
        self.review.setEnabled(True)


class AgencyRow(QFrame):
    revoke_all = Signal(str)

    def __init__(self, agency: str, parent: QWidget, *, timeout_ms: int) -> None:
        super().__init__(parent)
        self.agency = agency
        self.count = QLabel(self)
        self.count.setWordWrap(True)
        self.count.setTextFormat(Qt.TextFormat.PlainText)
        self.revoke = ConfirmButton(
            f"Revoke all of {agency}…", "Confirm: revoke all", self, timeout_ms=timeout_ms
        )
        self.revoke.setToolTip(
            f"Ends every grant {agency} holds now; open police feeds close at once. "
            "Click again within a few seconds to confirm."
        )
        self.revoke.setAccessibleName(f"Revoke all grants of {agency}")
        self.revoke.confirmed.connect(lambda: self.revoke_all.emit(self.agency))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(2)
        layout.addWidget(self.count)
        layout.addWidget(self.revoke)

    def show_count(self, grants: int) -> None:
        self.count.setText(f"{self.agency}: {grants} grant{'s' if grants != 1 else ''} in force")
        self.revoke.setEnabled(True)


class DistrictSidePanel(QWidget):
    """Signals ``review_requested(grant_id)`` and ``revoke_all_requested(agency)``."""

    review_requested = Signal(str)
    revoke_all_requested = Signal(str)

    def __init__(
        self, parent: QWidget | None = None, *, confirm_timeout_ms: int = CONFIRM_TIMEOUT_MS
    ) -> None:
        super().__init__(parent)
        self._timeout_ms = confirm_timeout_ms
        self._reviews: dict[str, ReviewRow] = {}
        self._agencies: dict[str, AgencyRow] = {}
        self.review_title = QLabel(self)
        self.review_empty = QLabel("No break-glass grant waits for review.", self)
        self.agency_title = QLabel("<b>Police access by agency</b>", self)
        self.agency_empty = QLabel("No police agency holds a grant now.", self)
        for empty in (self.review_empty, self.agency_empty):
            empty.setStyleSheet("color: #5f6368;")
            empty.setWordWrap(True)
        body = QWidget(self)
        self._review_list = QVBoxLayout()
        self._review_list.setSpacing(4)
        self._agency_list = QVBoxLayout()
        self._agency_list.setSpacing(4)
        column = QVBoxLayout(body)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self.review_title)
        column.addWidget(self.review_empty)
        column.addLayout(self._review_list)
        column.addSpacing(10)
        column.addWidget(self.agency_title)
        column.addWidget(self.agency_empty)
        column.addLayout(self._agency_list)
        column.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.show_reviews([])

    def wanted_width(self) -> int:
        """Wide enough for every button (the scroll area never scrolls sideways)."""
        buttons = [row.revoke.sizeHint().width() for row in self._agencies.values()]
        return max(buttons, default=0) + 40

    def review_row(self, grant_id: str) -> ReviewRow | None:
        return self._reviews.get(grant_id)

    @property
    def review_ids(self) -> list[str]:
        return list(self._reviews)

    def agency_row(self, agency: str) -> AgencyRow | None:
        return self._agencies.get(agency)

    def show_reviews(self, items: Sequence[ReviewItem]) -> None:
        wanted = {item.grant_id for item in items}
        for grant_id in set(self._reviews) - wanted:
            gone = self._reviews.pop(grant_id)
            self._review_list.removeWidget(gone)
            gone.deleteLater()
        for item in items:
            row = self._reviews.get(item.grant_id)
            if row is None:
                row = ReviewRow(item, self)
                row.review_requested.connect(self.review_requested)
                self._review_list.addWidget(row)
                self._reviews[item.grant_id] = row
            row.show_item(item)
        self.review_empty.setVisible(not items)
        count = f" — {len(items)}" if items else ""
        self.review_title.setText(f"<b>To review</b> (break-glass grants){count}")

    def show_agencies(self, counts: Mapping[str, int]) -> None:
        """Rows are kept while their agency holds grants, so an armed button stays armed."""
        for agency in set(self._agencies) - set(counts):
            gone = self._agencies.pop(agency)
            self._agency_list.removeWidget(gone)
            gone.deleteLater()
        for agency, grants in counts.items():
            row = self._agencies.get(agency)
            if row is None:
                row = AgencyRow(agency, self, timeout_ms=self._timeout_ms)
                row.revoke_all.connect(self.revoke_all_requested)
                self._agency_list.addWidget(row)
                self._agencies[agency] = row
            row.show_count(grants)
        self.agency_empty.setVisible(not counts)
