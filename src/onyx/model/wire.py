"""Splitting a serialized ModelProto's weights off before parsing it.

Parsing a large model with protobuf copies every weight into the parsed message, and turning
the weights into NumPy arrays copies them again. For a large file, onyx instead walks the
protobuf wire format of the top-level graph's initializers, removes each ``raw_data``
payload and describes it as external data stored in the model file itself (its offset and
length), then parses the much smaller remainder. The weights are then read from the file by
the external-data loader straight into their arrays. The walk reads the file through a small
window (FileView), so the file is never held in memory whole, and a file cut short is
recognised from its field lengths before anything is parsed.
"""

from __future__ import annotations

from typing import BinaryIO

from onnx import GraphProto, ModelProto, StringStringEntryProto, TensorProto

_GRAPH = ModelProto.DESCRIPTOR.fields_by_name["graph"].number
_INITIALIZER = GraphProto.DESCRIPTOR.fields_by_name["initializer"].number
_RAW_DATA = TensorProto.DESCRIPTOR.fields_by_name["raw_data"].number
_EXTERNAL_DATA = TensorProto.DESCRIPTOR.fields_by_name["external_data"].number
_DATA_LOCATION = TensorProto.DESCRIPTOR.fields_by_name["data_location"].number

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


class TruncatedModel(ValueError):
    """A top-level field of the model declares more bytes than the file holds."""


class FileView:
    """Read-only random access to a file's bytes (``view[i]``, ``view[a:b]``, ``len(view)``)
    through a window of ``window`` bytes, for walking the wire format of a large file."""

    def __init__(self, file: BinaryIO, size: int, window: int = 1 << 20):
        self._file, self._size, self._window = file, size, window
        self._start, self._buffer = 0, b""

    def __len__(self) -> int:
        return self._size

    def _read(self, start: int, count: int) -> bytes:
        self._file.seek(start)
        data = self._file.read(count)
        if len(data) != count:
            raise TruncatedModel(f"the file ended at byte {start + len(data)} while reading; it changed while loading")
        return data

    def _cover(self, start: int, stop: int) -> bool:
        """Move the window so it holds [start, stop) when that fits in a window."""
        if self._start <= start and stop <= self._start + len(self._buffer):
            return True
        if stop - start > self._window:
            return False
        self._start = start
        self._buffer = self._read(start, min(self._window, self._size - start))
        return stop <= self._start + len(self._buffer)

    def __getitem__(self, key: int | slice) -> int | bytes:
        if isinstance(key, slice):
            start, stop = key.start or 0, min(key.stop, self._size)
            if stop <= start:
                return b""
            if self._cover(start, stop):
                return self._buffer[start - self._start:stop - self._start]
            return self._read(start, stop - start)
        if not 0 <= key < self._size or not self._cover(key, key + 1):
            raise IndexError(key)
        return self._buffer[key - self._start]


def _read_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(data: bytes, start: int, end: int):
    """(field number, wire type, field start, payload start, payload end) of each field in [start, end)."""
    pos = start
    while pos < end:
        field_start = pos
        key, pos = _read_varint(data, pos, end)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            _, payload_end = _read_varint(data, pos, end)
        elif wire_type == _FIXED64:
            payload_end = pos + 8
        elif wire_type == _FIXED32:
            payload_end = pos + 4
        elif wire_type == _LENGTH_DELIMITED:
            length, pos = _read_varint(data, pos, end)
            payload_end = pos + length
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
        if payload_end > end:
            raise ValueError("a field runs past the end of its message")
        yield number, wire_type, field_start, pos, payload_end
        pos = payload_end


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _external_entry(key: str, value: str) -> bytes:
    return _length_delimited(_EXTERNAL_DATA, StringStringEntryProto(key=key, value=value).SerializeToString())


def _tensor_without_raw_data(data: bytes, start: int, end: int, file_name: str) -> bytes:
    """The tensor with its raw_data as a reference into the file. A data_location the tensor
    states itself (DEFAULT, as onnxruntime's quantizer writes after raw_data) is dropped when
    raw_data is replaced: the last value of a field wins, and it would undo the reference."""
    fields = list(_fields(data, start, end))
    has_raw_data = any(number == _RAW_DATA for number, *_ in fields)
    parts = []
    for number, _, field_start, payload_start, payload_end in fields:
        if number == _RAW_DATA:
            parts += [
                _external_entry("location", file_name),
                _external_entry("offset", str(payload_start)),
                _external_entry("length", str(payload_end - payload_start)),
            ]
        elif not (has_raw_data and number == _DATA_LOCATION):
            parts.append(bytes(data[field_start:payload_end]))
    if has_raw_data:
        parts.append(_varint(_DATA_LOCATION << 3 | _VARINT) + _varint(TensorProto.EXTERNAL))
    return b"".join(parts)


def _graph_without_raw_data(data: bytes, start: int, end: int, file_name: str) -> bytes:
    parts = []
    for number, wire_type, field_start, payload_start, payload_end in _fields(data, start, end):
        if number == _INITIALIZER and wire_type == _LENGTH_DELIMITED:
            parts.append(_length_delimited(number, _tensor_without_raw_data(data, payload_start, payload_end, file_name)))
        else:
            parts.append(bytes(data[field_start:payload_end]))
    return b"".join(parts)


def weights_as_file_references(data: bytes, file_name: str) -> bytes:
    """The serialized model ``data`` (the contents of ``file_name``) with every top-level
    initializer's raw_data replaced by an external-data reference to its place in that file.

    Raises TruncatedModel when the file is cut short, ValueError when the bytes are not a
    well-formed protobuf message.
    """
    check_complete(data)
    parts = []
    for number, wire_type, field_start, payload_start, payload_end in _fields(data, 0, len(data)):
        if number == _GRAPH and wire_type == _LENGTH_DELIMITED:
            parts.append(_length_delimited(number, _graph_without_raw_data(data, payload_start, payload_end, file_name)))
        else:
            parts.append(bytes(data[field_start:payload_end]))
    return b"".join(parts)


def check_complete(data: bytes | FileView) -> None:
    """Raise TruncatedModel when a top-level field of the serialized model runs past its end.

    Only the top-level field headers are read (a handful for any model), so a cut-short
    file of gigabytes is refused without reading its weights.
    """
    size, pos = len(data), 0
    while pos < size:
        try:
            key, pos = _read_varint(data, pos, size)
            if key & 7 == _VARINT:
                _, pos = _read_varint(data, pos, size)
                continue
            if key & 7 == _LENGTH_DELIMITED:
                length, pos = _read_varint(data, pos, size)
            else:
                length = {_FIXED64: 8, _FIXED32: 4}.get(key & 7)
        except ValueError:
            if size - pos <= 20:
                raise TruncatedModel(f"the file ends inside a field header at byte {size}") from None
            return  # an overlong varint: corrupt, which the parser reports
        if length is None:
            return  # not a wire type ModelProto uses: leave the verdict to the parser
        if pos + length > size:
            field = ModelProto.DESCRIPTOR.fields_by_number.get(key >> 3)
            name = field.name if field is not None else f"field {key >> 3}"
            raise TruncatedModel(f"its {name} declares {length} bytes from byte {pos}, but the file has {size} bytes")
        pos += length
