"""indexes on (updated_at, natural key) for watermark reads

A watermark read pages with ``(updated_at, key) > (cursor)`` ordered the same way; with an index
on exactly that, each page is an index range scan instead of a sort of the whole table.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from runtime.sis.models import natural_key
from runtime.sis.triggers import existing

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# the object tables of this revision: later ones (guardian, 0007) create their own index
def upgrade() -> None:
    for name in existing(op.get_bind()):
        op.drop_index(f"ix_{name}_updated_at", table_name=name)
        op.create_index(f"ix_{name}_watermark", name, ["updated_at", *natural_key(name)])


def downgrade() -> None:
    for name in existing(op.get_bind()):
        op.drop_index(f"ix_{name}_watermark", table_name=name)
        op.create_index(f"ix_{name}_updated_at", name, ["updated_at"])
