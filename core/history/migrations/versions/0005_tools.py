"""users.time_zone (the clock tool's zone; null: TIME_ZONE), turns.tool_calls (the tools a
turn called, with their arguments and results) and calls.ending (how the agent ended a call's
stream: end, transfer or idle)
"""

from alembic import op
import sqlalchemy as sa


revision, down_revision = '0005', '0004'


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tool_calls', sa.JSON(), nullable=True))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ending', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('ending')
    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.drop_column('tool_calls')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
