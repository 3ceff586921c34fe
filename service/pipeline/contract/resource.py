"""Resource files in requests: decode, pick the format, list the units; merge results back."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from service.l10n.formats import (
    ResourceFormat,
    ResourceFormatError,
    Unit,
    detect_format,
    get_format,
)
from service.pipeline.contract.messages import ResourceFile


@dataclass(frozen=True)
class OpenedFile:
    content: bytes
    format: ResourceFormat
    units: list[Unit]

    def merged(
        self, translations: Mapping[str, str], target_lang: str, filename: str | None
    ) -> ResourceFile:
        out = self.format.merge(self.content, translations, target_lang)
        return ResourceFile(
            format=self.format.name, filename=filename, content_b64=base64.b64encode(out).decode()
        )


def open_file(file: ResourceFile) -> OpenedFile:
    """Raises ResourceFormatError with what is wrong (and where) for unusable files."""
    try:
        content = base64.b64decode(file.content_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ResourceFormatError(f"file.content_b64 is not valid base64: {exc}") from None
    name = file.format or detect_format(file.filename, content)
    if name is None:
        raise ResourceFormatError("file format not recognised; set file.format")
    fmt = get_format(name)
    return OpenedFile(content, fmt, fmt.extract(content))
