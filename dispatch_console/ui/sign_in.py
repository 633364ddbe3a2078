"""The sign-in window: user name, password and the one-time code of the second factor.

It only collects and forwards; the sign-in itself runs in the composition root, which
reports failures back here. It is a plain window, not a modal ``exec()`` dialog, so it
never starts a nested event loop under qasync.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class SignInWindow(QWidget):
    """``submitted(username, password, code)``; ``cancelled()`` when closed by the user."""

    submitted = Signal(str, str, str)
    cancelled = Signal()

    def __init__(
        self, server_url: str, parent: QWidget | None = None, *, store_problem: str | None = None
    ) -> None:
        """``store_problem``: why sign-ins cannot be kept on this machine (no Secret
        Service), said once, here, before the user signs in."""
        super().__init__(parent)
        self.setWindowTitle("Dispatch Console — Sign in")
        self._done = False
        title = QLabel("<b>Sign in to the district</b>", self)
        server = QLabel(f"Server: {server_url}", self)
        server.setStyleSheet("color: #5f6368;")
        self.username = QLineEdit(self)
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.code = QLineEdit(self)
        self.code.setPlaceholderText("6-digit code from your authenticator")
        self.code.setMaxLength(6)
        self.code.setInputMask("")
        self.store_problem = QLabel(store_problem or "", self)
        self.store_problem.setObjectName("storeProblem")
        self.store_problem.setWordWrap(True)
        self.store_problem.setStyleSheet(
            "QLabel#storeProblem { background: #fef7e0; color: #7a4f01; padding: 6px;"
            " border-radius: 3px; }"
        )
        self.store_problem.setVisible(bool(store_problem))
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a50e0e;")
        self.error.hide()
        self.button = QPushButton("Sign in", self)
        self.button.setDefault(True)
        self.button.clicked.connect(self._submit)
        for field in (self.username, self.password, self.code):
            field.returnPressed.connect(self._submit)
        form = QFormLayout()
        form.addRow("User name", self.username)
        form.addRow("Password", self.password)
        form.addRow("One-time code", self.code)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(server)
        layout.addLayout(form)
        layout.addWidget(self.store_problem)
        layout.addWidget(self.error)
        layout.addWidget(self.button, alignment=Qt.AlignmentFlag.AlignRight)
        self.setMinimumWidth(380)

    def _submit(self) -> None:
        username, code = self.username.text().strip(), self.code.text().strip()
        if not username or not self.password.text() or not code:
            self.show_error("Enter your user name, password and one-time code.")
            return
        self.button.setEnabled(False)
        self.button.setText("Signing in…")
        self.error.hide()
        self.submitted.emit(username, self.password.text(), code)

    def show_error(self, text: str) -> None:
        """Sign-in failed: say why, clear the secrets, let the user try again."""
        self.error.setText(text)
        self.error.show()
        self.password.clear()
        self.code.clear()
        self.button.setEnabled(True)
        self.button.setText("Sign in")

    def finish(self) -> None:
        self._done = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._done:
            self._done = True
            self.cancelled.emit()
        event.accept()
