"""The read models fengkong maintains, in the order the runner applies them."""

from __future__ import annotations

from projections.account_status import AccountStatus
from projections.base import Projection, Table
from projections.bucket_history import BucketHistory
from projections.collection import Collection
from projections.credit_history import CreditHistory
from projections.decisions import Decisions
from projections.delinquency import Delinquency
from projections.notices import Notices
from projections.watchlist import Watchlist

PROJECTIONS: tuple[Projection, ...] = (
    AccountStatus(),
    CreditHistory(),
    Decisions(),
    Delinquency(),
    Collection(),
    Watchlist(),
    Notices(),
    BucketHistory(),
)
BY_NAME: dict[str, Projection] = {projection.name: projection for projection in PROJECTIONS}
TABLES: dict[str, Table] = {table.name: table for projection in PROJECTIONS for table in projection.tables}
PUBLIC_TABLES: dict[str, Table] = {name: table for name, table in TABLES.items() if not table.internal}
