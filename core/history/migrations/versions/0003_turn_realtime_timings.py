"""turns: real-time timings measured from the end of the user's speech

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('eos_transcript_ms', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('eos_first_token_ms', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('eos_first_audio_ms', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.drop_column('eos_first_audio_ms')
        batch_op.drop_column('eos_first_token_ms')
        batch_op.drop_column('eos_transcript_ms')
