"""calls: phone calls and their latest status (never the number, only its keyed hash)"""

from alembic import op
import sqlalchemy as sa


revision, down_revision = '0004', '0003'


def upgrade() -> None:
    op.create_table(
        'calls',
        sa.Column('call_sid', sa.String(length=64), nullable=False),
        sa.Column('caller_id', sa.String(length=64), nullable=False),
        sa.Column('session_id', sa.String(length=32), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('duration_s', sa.Integer(), nullable=True),
        sa.Column('stream_sid', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('call_sid'),
    )
    op.create_index('ix_calls_session_id', 'calls', ['session_id'])


def downgrade() -> None:
    op.drop_index('ix_calls_session_id', table_name='calls')
    op.drop_table('calls')
