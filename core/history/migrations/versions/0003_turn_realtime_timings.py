"""turns: real-time timings measured from the end of the user's speech"""

from alembic import op
import sqlalchemy as sa


revision, down_revision = '0003', '0002'


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
