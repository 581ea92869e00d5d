"""A form generated from an algorithm's settings dataclass: one editor per field.

bool → check box, int → spin box, float → text field (accepts 1e-5), str → text field,
``Literal[...]`` / Enum → combo box, lists/tuples → YAML text (``[0.2, 0.1]``);
``X | None`` → empty text means None.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from typing import Any

import yaml

from PySide6.QtCore import Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLineEdit, QSpinBox, QWidget

from sci_viewer.value_types import unwrap_optional


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _label(f: dataclasses.Field) -> str:
    """The field's ``label`` metadata, else its name in words ("max_iter" -> "Max iter")."""
    return (f.metadata or {}).get("label") or f.name.replace("_", " ").capitalize()


class _Field:
    """One editor and how to read/write its value."""

    def __init__(self, f: dataclasses.Field, tp: Any, default: Any, on_change) -> None:
        self.name = f.name
        self.tp, self.optional = unwrap_optional(tp)
        self.default = default
        self.choices: list[Any] | None = None
        if typing.get_origin(self.tp) is typing.Literal:
            self.choices = list(typing.get_args(self.tp))
        elif isinstance(self.tp, type) and issubclass(self.tp, enum.Enum):
            self.choices = list(self.tp)
        suggest = f.metadata.get("suggestions") if f.metadata else None
        self.editable_combo = self.tp is str and callable(suggest)
        if self.editable_combo:  # free text, with the known values (e.g. shipped models) listed
            w = QComboBox()
            w.setEditable(True)
            w.addItems([str(v) for v in suggest()])
            w.currentTextChanged.connect(on_change)
        elif self.choices is not None:
            w = QComboBox()
            for c in self.choices:
                w.addItem(str(c.value if isinstance(c, enum.Enum) else c))
            w.currentIndexChanged.connect(on_change)
        elif self.tp is bool:
            w = QCheckBox()
            w.toggled.connect(on_change)
        elif self.tp is int and not self.optional:
            w = QSpinBox()
            meta = f.metadata or {}
            w.setRange(int(meta.get("min", -1_000_000_000)), int(meta.get("max", 1_000_000_000)))
            w.valueChanged.connect(on_change)
        else:
            w = QLineEdit()
            if self.tp is float and not self.optional:
                w.setValidator(QDoubleValidator())
            if self.optional:
                w.setPlaceholderText("none")
            w.editingFinished.connect(on_change)
        self.widget: QWidget = w
        doc = f.metadata.get("help") if f.metadata else None
        w.setToolTip(f"{f.name}" + (f": {doc}" if doc else "") + f" (default {default!r})")
        self.set(default)

    def set(self, value: Any) -> None:
        w = self.widget
        if self.editable_combo:
            assert isinstance(w, QComboBox)
            w.setCurrentText("" if value is None else str(value))
        elif self.choices is not None:
            assert isinstance(w, QComboBox)
            values = [c.value if isinstance(c, enum.Enum) else c for c in self.choices]
            raw = value.value if isinstance(value, enum.Enum) else value
            if raw in values:
                w.setCurrentIndex(values.index(raw))
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        else:
            assert isinstance(w, QLineEdit)
            if value is None:
                w.setText("")
            elif self.tp is float:
                w.setText(repr(float(value)))
            elif self.tp in (int, str):
                w.setText(str(value))
            else:  # lists, tuples, dicts: YAML flow style, e.g. [0.196, 0.098]
                w.setText(yaml.safe_dump(_plain(value), default_flow_style=True).strip())

    def get(self) -> Any:
        w = self.widget
        if self.editable_combo:
            assert isinstance(w, QComboBox)
            return w.currentText().strip() or self.default
        if self.choices is not None:
            assert isinstance(w, QComboBox)
            return self.choices[w.currentIndex()]
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox):
            return w.value()
        assert isinstance(w, QLineEdit)
        text = w.text().strip()
        if not text and self.optional:
            return None
        # Text that does not parse is returned as it is: the algorithm's settings check then refuses
        # it with the setting's name before any run (never a silent fall back to the default).
        if self.tp is float:
            decimal = text.replace(",", ".") if text.count(",") == 1 and "." not in text else text
            try:
                return float(decimal)
            except ValueError:
                return text
        if self.tp is int:
            try:
                return int(text)
            except ValueError:
                return text
        if self.tp is str:
            return text
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            return text
        origin = typing.get_origin(self.tp) or self.tp
        if origin in (list, tuple) and isinstance(value, (int, float)):
            value = [value]
        if origin is tuple and isinstance(value, list):
            value = tuple(value)
        return value


class SettingsForm(QWidget):
    """Editors for the fields of a settings dataclass. Emits ``sigChanged`` on edits."""

    sigChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._fields: dict[str, _Field] = {}
        self._settings_type: type | None = None

    def set_settings_type(self, settings_type: type, values: dict[str, Any] | None = None) -> None:
        """Rebuild the form for ``settings_type`` (a dataclass), with optional starting values."""
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._fields.clear()
        self._settings_type = settings_type
        hints = typing.get_type_hints(settings_type)
        defaults = settings_type()
        for f in dataclasses.fields(settings_type):
            if not f.init or f.name.startswith("_"):
                continue
            field = _Field(f, hints.get(f.name, str), getattr(defaults, f.name),
                           lambda *_: self.sigChanged.emit())
            self._fields[f.name] = field
            self._layout.addRow(_label(f), field.widget)
        if values:
            self.set_values(values)

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self._fields:
                self._fields[name].set(value)

    def values(self) -> dict[str, Any]:
        """The current values, plain data (enum members as their values)."""
        out = {}
        for name, field in self._fields.items():
            v = field.get()
            out[name] = v.value if isinstance(v, enum.Enum) else v
        return out

    def editor(self, name: str) -> QWidget:
        return self._fields[name].widget

    def field_names(self) -> list[str]:
        return list(self._fields)
