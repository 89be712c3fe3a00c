"""users.tts_provider: who speaks a user's answers (null: the server's TTS_PROVIDER)"""

from alembic import op
import sqlalchemy as sa


revision, down_revision = '0002', '0001'


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tts_provider', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('tts_provider')
