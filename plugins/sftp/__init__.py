"""SFTP with paramiko: atomic uploads, pick-up by glob, archive after processing."""

from __future__ import annotations

from runtime.plugin import Plugin, lazy

from .spec import SftpSource, SftpTarget

plugin = Plugin(
    type="sftp",
    description="Files over SFTP: key login, host keys checked, atomic upload, archive after use.",
    source_spec=SftpSource,
    target_spec=SftpTarget,
    create_source=lazy("plugins.sftp.source:SftpPickupSource"),
    create_target=lazy("plugins.sftp.target:SftpUploadTarget"),
)
