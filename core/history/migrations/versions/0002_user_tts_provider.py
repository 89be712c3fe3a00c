"""users.tts_provider: who speaks a user's answers (null: the server's TTS_PROVIDER)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 05:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tts_provider', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('tts_provider')
