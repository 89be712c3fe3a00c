"""login_attempts (the sign-in throttle's counts) and used_tickets (phone stream tickets that
have opened their stream): kept in the database so that every app process shares them
"""

from alembic import op
import sqlalchemy as sa


revision, down_revision = '0006', '0005'


def upgrade() -> None:
    op.create_table(
        'login_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_login_attempts_key'), 'login_attempts', ['key'], unique=False)
    op.create_index(op.f('ix_login_attempts_at'), 'login_attempts', ['at'], unique=False)
    op.create_table(
        'used_tickets',
        sa.Column('call_sid', sa.String(length=64), nullable=False),
        sa.Column('expires', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('call_sid'),
    )
    op.create_index(op.f('ix_used_tickets_expires'), 'used_tickets', ['expires'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_used_tickets_expires'), table_name='used_tickets')
    op.drop_table('used_tickets')
    op.drop_index(op.f('ix_login_attempts_at'), table_name='login_attempts')
    op.drop_index(op.f('ix_login_attempts_key'), table_name='login_attempts')
    op.drop_table('login_attempts')
