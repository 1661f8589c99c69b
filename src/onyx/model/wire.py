"""Splitting a serialized ModelProto's weights off before parsing it.

Parsing a large model with protobuf copies every weight into the parsed message, and turning
the weights into NumPy arrays copies them again. For a large file, onyx instead walks the
protobuf wire format of the top-level graph's initializers, removes each ``raw_data``
payload and describes it as external data stored in the model file itself (its offset and
length), then parses the much smaller remainder. The weights are then read from the file by
the external-data loader, which memory-maps them.
"""

from __future__ import annotations

from onnx import GraphProto, ModelProto, StringStringEntryProto, TensorProto

_GRAPH = ModelProto.DESCRIPTOR.fields_by_name["graph"].number
_INITIALIZER = GraphProto.DESCRIPTOR.fields_by_name["initializer"].number
_RAW_DATA = TensorProto.DESCRIPTOR.fields_by_name["raw_data"].number
_EXTERNAL_DATA = TensorProto.DESCRIPTOR.fields_by_name["external_data"].number
_DATA_LOCATION = TensorProto.DESCRIPTOR.fields_by_name["data_location"].number

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


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
    parts = []
    for number, _, field_start, payload_start, payload_end in _fields(data, start, end):
        if number == _RAW_DATA:
            parts += [
                _external_entry("location", file_name),
                _external_entry("offset", str(payload_start)),
                _external_entry("length", str(payload_end - payload_start)),
                _varint(_DATA_LOCATION << 3 | _VARINT) + _varint(TensorProto.EXTERNAL),
            ]
        else:
            parts.append(bytes(data[field_start:payload_end]))
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

    Raises ValueError when the bytes are not a well-formed protobuf message.
    """
    parts = []
    for number, wire_type, field_start, payload_start, payload_end in _fields(data, 0, len(data)):
        if number == _GRAPH and wire_type == _LENGTH_DELIMITED:
            parts.append(_length_delimited(number, _graph_without_raw_data(data, payload_start, payload_end, file_name)))
        else:
            parts.append(bytes(data[field_start:payload_end]))
    return b"".join(parts)
