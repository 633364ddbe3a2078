"""The sign-in window: user name, password and the one-time code of the second factor.

It only collects and forwards; the sign-in itself runs in the composition root, which
reports failures back here. It is a plain window, not a modal ``exec()`` dialog, so it
never starts a nested event loop under qasync.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dispatch_console.ui import theme


class SignInWindow(QWidget):
    """``submitted(username, password, code, remember)``; ``cancelled()`` when closed by
    the user."""

    submitted = Signal(str, str, str, bool)
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
        self.store_problem.setStyleSheet(_bar("warning"))
        self.store_problem.setVisible(bool(store_problem))
        # Only offered where a password store can keep the refresh token safely.
        self.remember = QCheckBox("Keep me signed in on this computer", self)
        self.remember.setAccessibleName("Keep me signed in")
        if store_problem:
            self.remember.setEnabled(False)
            self.remember.setToolTip("This computer has no password store to keep it in.")
        else:
            self.remember.setToolTip(
                "The next start signs you in without your password and code, until you "
                "sign out or the district's limit is reached. Only on a computer that "
                "you alone use under your own OS account."
            )
        self.remember.setAccessibleDescription(self.remember.toolTip())
        self.error = QLabel(self)
        self.error.setWordWrap(True)
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
        layout.addWidget(self.remember)
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
        self.submitted.emit(username, self.password.text(), code, self.remember.isChecked())

    def show_resuming(self, username: str) -> None:
        """A remembered sign-in is being tried: say whose, and wait for its outcome."""
        self.username.setText(username)
        self.remember.setChecked(True)
        self._set_fields_enabled(False)
        self.button.setText("Signing in…")
        self._say(f"Signing in as {username} (remembered on this computer)…", "info")

    def _say(self, text: str, level: str) -> None:
        """A message under the form in the theme's (contrast-checked) colours; the window
        grows to show all of it."""
        self.error.setText(text)
        self.error.setStyleSheet(_bar(level))
        self.error.show()
        self.adjustSize()

    def _set_fields_enabled(self, enabled: bool) -> None:
        for widget in (self.username, self.password, self.code, self.button):
            widget.setEnabled(enabled)

    def show_error(self, text: str) -> None:
        """Sign-in failed: say why, clear the secrets, let the user try again."""
        self._say(text, "error")
        self.password.clear()
        self.code.clear()
        self._set_fields_enabled(True)
        self.button.setText("Sign in")
        (self.password if self.username.text() else self.username).setFocus()

    def finish(self) -> None:
        self._done = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._done:
            self._done = True
            self.cancelled.emit()
        event.accept()


def _bar(level: str) -> str:
    return f"QLabel {{ {theme.message_style(level)} padding: 6px; border-radius: 3px; }}"
