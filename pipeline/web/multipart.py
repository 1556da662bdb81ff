"""Reading a multipart body as it streams in, with the limits enforced on the way.

A file part reaching the size limit is refused (413) the moment it does — its bytes are counted,
not kept — and a part with a name the form does not know is refused (422) when its headers end.
The rest of a refused body is read and dropped (up to a bound) so the client, still sending,
receives the answer instead of a reset connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from pipeline.errors import PrecheckError, TooLarge, Unprocessable

#: after a refusal, at most this much more of the body is read (and dropped) before answering
DRAIN_LIMIT = 64 * 1024 * 1024


@dataclass
class Part:
    name: str
    filename: str | None
    data: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class PartLimits:
    names: frozenset[str]  # every part name the form accepts
    max_file_bytes: int  # a part of this size or more is refused with 413
    max_bytes: dict[str, int]  # parts kept only up to this many bytes (+1, so the reader sees it was longer)


class _Reader:
    def __init__(self, limits: PartLimits) -> None:
        self.limits = limits
        self.parts: list[Part] = []
        self.seen: set[str] = set()
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.current: Part | None = None
        self.keep_up_to = 0

    def on_part_begin(self) -> None:
        self.disposition = b""
        self.current = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" not in options:
            raise Unprocessable("表单部分缺少名称 / a multipart part has no name")
        name = options[b"name"].decode("utf-8", "replace")
        if name not in self.limits.names:
            raise Unprocessable(f"未知的材料位置 / unknown slot: {name}")
        if name in self.seen:
            raise Unprocessable(f"同一材料位置有多个文件 / one file per slot: {name}")
        self.seen.add(name)
        filename = options[b"filename"].decode("utf-8", "replace") if b"filename" in options else None
        self.current = Part(name=name, filename=filename)
        self.keep_up_to = self.limits.max_bytes.get(name, self.limits.max_file_bytes)
        self.parts.append(self.current)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.current
        if part is None:
            return
        if part.name in self.limits.max_bytes:
            room = self.keep_up_to + 1 - len(part.data)
            if room > 0:
                part.data.extend(data[start:min(end, start + room)])
            return
        if len(part.data) + (end - start) >= self.limits.max_file_bytes:
            raise TooLarge(f"文件须小于 5 MB / the file of part {part.name!r} is "
                           f"{self.limits.max_file_bytes} bytes or more")
        part.data.extend(data[start:end])


#: room for the part headers and boundaries of a body, beyond the parts' own limits
ENVELOPE_BYTES = 64 * 1024


async def read_parts(content_type: str, stream: AsyncIterator[bytes], limits: PartLimits,
                     content_length: str | None = None) -> list[Part]:
    """The parts of a ``multipart/form-data`` body; raise TooLarge or Unprocessable as they show.

    A declared length larger than every allowed part together is refused before reading: such a
    body must hold a file of 5 MB or more (or something that is not a form at all)."""
    most = sum(limits.max_bytes.get(name, limits.max_file_bytes) for name in limits.names) + ENVELOPE_BYTES
    if content_length is not None and content_length.isdigit() and int(content_length) > most:
        raise TooLarge(f"请求体过大 / the body ({content_length} bytes) is larger than every allowed part "
                       f"together ({most} bytes): a file is 5 MB or more")
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise Unprocessable("请求体须为 multipart/form-data / the body must be multipart/form-data")
    reader = _Reader(limits)
    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": reader.on_part_begin, "on_header_field": reader.on_header_field,
        "on_header_value": reader.on_header_value, "on_header_end": reader.on_header_end,
        "on_headers_finished": reader.on_headers_finished, "on_part_data": reader.on_part_data,
    })
    try:
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
    except PrecheckError:
        await drain(stream)
        raise
    except FormParserError as exc:
        await drain(stream)
        raise Unprocessable(f"multipart 格式错误 / malformed multipart body: {exc}") from None
    return reader.parts


async def drain(stream: AsyncIterator[bytes]) -> None:
    read = 0
    try:
        async for chunk in stream:
            read += len(chunk)
            if read > DRAIN_LIMIT:
                return
    except Exception:  # the stream was already consumed or the client went away
        return
