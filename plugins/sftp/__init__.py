"""SFTP with paramiko: atomic uploads, pick-up by glob, archive after processing."""

from __future__ import annotations

from runtime.plugin import Plugin

from .spec import SftpSource, SftpTarget


def _source(spec, ctx):
    from .source import SftpPickupSource

    return SftpPickupSource(spec, ctx)


def _target(spec, ctx):
    from .target import SftpUploadTarget

    return SftpUploadTarget(spec, ctx)


plugin = Plugin(
    type="sftp",
    description="Files over SFTP: key login, host keys checked, atomic upload, archive after use.",
    source_spec=SftpSource,
    target_spec=SftpTarget,
    create_source=_source,
    create_target=_target,
)
