"""calls.user_id: whose call it is (who placed it, or the caller's account), kept when the
call's session is deleted, so the call stays listed and a call going on stays its owner's
"""

from alembic import op
import sqlalchemy as sa


revision, down_revision = '0007', '0006'


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_calls_user_id'), ['user_id'], unique=False)
        batch_op.create_foreign_key(
            'fk_calls_user_id_users', 'users', ['user_id'], ['id'], ondelete='CASCADE'
        )
    # The calls recorded so far belong to their session's user; those whose session is
    # already gone have no owner to find.
    op.execute(
        "UPDATE calls SET user_id = "
        "(SELECT sessions.user_id FROM sessions WHERE sessions.id = calls.session_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint('fk_calls_user_id_users', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_calls_user_id'))
        batch_op.drop_column('user_id')
